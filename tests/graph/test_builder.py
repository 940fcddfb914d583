"""StateGraph validation and the Mermaid picture."""

from __future__ import annotations

import pytest

from rxchronos import ArgumentTypeError
from rxchronos import RxChronosError
from rxchronos.graph import END
from rxchronos.graph import START
from rxchronos.graph import GraphValidationError
from rxchronos.graph import Runner
from rxchronos.graph import StateGraph

from .helpers import approval_graph
from .helpers import linear_graph
from .helpers import loop_graph


def noop(state: object) -> dict[str, object]:
    return {}


def problems_of(graph: StateGraph) -> list[str]:
    with pytest.raises(GraphValidationError) as info:
        graph.compile()
    assert isinstance(info.value, RxChronosError)
    return info.value.problems


def test_no_entry_point() -> None:
    assert problems_of(StateGraph("g").add_node("a", noop)) == [
        "graph 'g' has no entry point: call set_entry_point(<node id>)"
    ]


def test_unknown_edge_target_is_named() -> None:
    graph = StateGraph("g").add_node("a", noop).set_entry_point("a").add_edge("a", "nowhere")
    assert problems_of(graph) == ["edge 'a' -> 'nowhere' goes to an unknown node 'nowhere'"]


def test_duplicate_node_is_reported_at_compile() -> None:
    graph = StateGraph("g").add_node("a", noop).add_node("a", noop).set_entry_point("a")
    assert problems_of(graph) == ["duplicate node 'a'"]


def test_an_edge_to_end_beside_other_edges_is_refused() -> None:
    graph = (
        StateGraph("g")
        .add_node("a", noop)
        .add_node("b", noop)
        .set_entry_point("a")
        .add_edge("a", "b")
        .add_edge("a", END)
    )
    problems = problems_of(graph)
    assert any("node 'a' has an edge to END and others" in p for p in problems)


def test_unreachable_node() -> None:
    graph = StateGraph("g").add_node("a", noop).add_node("island", noop).set_entry_point("a")
    assert problems_of(graph) == ["node 'island' is unreachable from the entry point 'a'"]


@pytest.mark.parametrize("name", [START, END])
def test_reserved_names(name: str) -> None:
    graph = StateGraph("g").add_node("a", noop).add_node(name, noop).set_entry_point("a")
    assert problems_of(graph) == [f"node id {name!r} is reserved (START/END)"]


def test_unknown_entry_point_and_conditional_targets() -> None:
    graph = (
        StateGraph("g")
        .add_node("a", noop)
        .set_entry_point("b")
        .add_conditional_edge("a", lambda s: "x", {"x": "ghost"})
    )
    problems = problems_of(graph)
    assert "entry point 'b' is not a node" in problems
    assert "conditional edge from 'a': path 'x' goes to an unknown node 'ghost'" in problems


def test_every_problem_is_listed_at_once() -> None:
    graph = StateGraph("g").add_node("a", noop).add_node("a", noop).add_edge("a", "zz")
    assert len(problems_of(graph)) == 3


def test_start_edge_sets_the_entry_point() -> None:
    compiled = StateGraph("g").add_node("a", noop).add_edge(START, "a").compile()
    assert compiled.entry_point == "a"


def test_non_callable_node_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="node 'a': fn must be callable"):
        StateGraph("g").add_node("a", "not a function")  # type: ignore[arg-type]


def test_mermaid_linear() -> None:
    text = linear_graph().compile().to_mermaid()
    assert text.splitlines() == [
        "flowchart TD",
        "    __start__([start]) --> n0",
        '    n0["extract"]',
        '    n1["transform"]',
        '    n2["load"]',
        "    n0 --> n1",
        "    n1 --> n2",
        "    n2 --> __end__([end])",
    ]


def test_mermaid_labels_conditional_edges_and_marks_interrupts() -> None:
    loop = loop_graph().compile().to_mermaid()
    assert '    n0 -.->|"inc"| n0' in loop
    assert '    n0 -.->|"__end__"| __end__([end])' in loop
    approval = approval_graph().compile().to_mermaid()
    assert '    n1[/"review"/]' in approval
    assert approval_graph().compile()._repr_markdown_().startswith("```mermaid\nflowchart TD")


def test_an_async_node_cannot_be_in_thread() -> None:
    async def fetch(state: object) -> dict[str, object]:
        return {}

    with pytest.raises(TypeError, match="node 'fetch': in_thread=True is for blocking plain def"):
        StateGraph("g").add_node("fetch", fetch, in_thread=True)


def test_an_async_route_is_a_type_error() -> None:
    async def route(state: object) -> str:
        return END

    with pytest.raises(TypeError, match="route for 'a' must be a plain def"):
        StateGraph("g").add_node("a", noop).add_conditional_edge("a", route)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("path_map", "error", "message"),
    [
        ("ab", TypeError, "path_map of 'a' must be a mapping .* got str"),
        (42, TypeError, "path_map of 'a' must be a mapping .* got int"),
        ([], ValueError, "path_map of 'a' is empty"),
        ({}, ValueError, "path_map of 'a' is empty"),
        (["b", ["c"]], TypeError, r"node ids must be strings, got \[\['c'\]\]"),
        ({"go": ["b"]}, TypeError, r"keys and node ids must be strings, got 'go': \['b'\]"),
        ({1: "b"}, TypeError, "keys and node ids must be strings, got 1: 'b'"),
    ],
)
def test_a_malformed_path_map_is_refused_where_it_is_given(
    path_map: object, error: type[Exception], message: str
) -> None:
    graph = StateGraph("g").add_node("a", noop).add_node("b", noop)
    with pytest.raises(error, match=message):
        graph.add_conditional_edge("a", lambda s: "b", path_map)  # type: ignore[arg-type]


def test_path_map_targets_that_are_not_nodes_are_named() -> None:
    graph = (
        StateGraph("g")
        .add_node("a", noop)
        .add_node("b", noop)
        .set_entry_point("a")
        .add_conditional_edge("a", lambda s: "b", ["b", "c", END])
    )
    assert problems_of(graph) == ["conditional edge from 'a': path 'c' goes to an unknown node 'c'"]


async def test_a_compiled_graph_is_immutable_and_runs_do_not_write_into_it() -> None:
    compiled = (
        StateGraph("g")
        .add_node("a", lambda s: {"n": s.get("n", 0) + 1})
        .add_node("b", lambda s: {})
        .set_entry_point("a")
        .add_conditional_edge("a", lambda s: "a" if s["n"] < 3 else "b")
        .compile()
    )
    edges_before = dict(compiled.edge_data)
    with pytest.raises(AttributeError, match="immutable"):
        compiled.entry_point = "b"  # type: ignore[misc]
    with pytest.raises(AttributeError, match="immutable"):
        del compiled.graph_id  # type: ignore[misc]
    with pytest.raises(TypeError):
        compiled.nodes["c"] = compiled.nodes["a"]  # type: ignore[index]
    result = await Runner(compiled).run("s", {})
    assert result.state["n"] == 3
    assert dict(compiled.edge_data) == edges_before  # nothing cached by the run
    assert compiled.edge_data["a", "b"] == {"from": "a", "to": "b"}


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda g: g.add_edge(5, "a"), r"add_edge\(\) source must be a node id .* got int 5"),
        (lambda g: g.add_edge(b"a", "a"), r"add_edge\(\) source must be .* got bytes"),
        (
            lambda g: g.add_edge([["a"], "a"], "a"),
            r"add_edge\(\) source must be a node id \(a str\), got list \['a'\]",
        ),
        (lambda g: g.add_edge("a", ["b"]), r"add_edge\(\) target must be .* got list \['b'\]"),
        (
            lambda g: g.set_entry_point(["a"]),
            r"set_entry_point\(\) node_id must be a node id \(a str\), got list",
        ),
        (
            lambda g: g.add_conditional_edge(["a"], lambda s: END),
            r"add_conditional_edge\(\) source must be a node id \(a str\), got list",
        ),
    ],
)
def test_a_node_id_that_is_not_a_str_is_refused_where_it_is_given(
    build: object, message: str
) -> None:
    graph = StateGraph("g").add_node("a", noop)
    with pytest.raises(ArgumentTypeError, match=message):
        build(graph)  # type: ignore[operator]
