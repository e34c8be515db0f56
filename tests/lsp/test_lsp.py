"""`flowc lsp` driven end to end by a real client (pytest-lsp).

The server is the binary in $FLOWC (tests/lsp.rs sets it); documents are real
files in a temporary folder, so imports and go to definition cross files.
"""

import asyncio
import os
import pathlib
import subprocess
import time

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient
from pytest_lsp.client import make_test_lsp_client

FLOWC = os.environ["FLOWC"]

MAIN = """\
import "lib.flow"

type Detail = { score: float, note: string }

/// Looks a detail up.
tool lookup(id: string) -> Detail = exec ["true"]

flow main(id: string) -> float {
  let detail = lookup(id: id)
  let tagged = lib.tag(text: detail.note)
  if len(tagged) > 0 { detail.score } else { 0.0 }
}
"""

LIB = """\
/// Tags a text.
tool tag(text: string) -> string = exec ["true"]
"""


def make_client() -> LanguageClient:
    """The test client, also noting when each diagnostics notification arrives."""
    client = make_test_lsp_client()
    client.published = []
    handle = client.protocol._handle_notification

    def noted(method, params):
        if method == types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS:
            client.published.append((time.perf_counter(), params))
        return handle(method, params)

    client.protocol._handle_notification = noted
    # What the server asks the client to register (the file watcher).
    client.registrations = []

    @client.feature(types.CLIENT_REGISTER_CAPABILITY)
    def register(ls, params: types.RegistrationParams):
        ls.registrations.extend(params.registrations)

    return client


@pytest_lsp.fixture(
    config=ClientServerConfig(server_command=[FLOWC, "lsp"], client_factory=make_client)
)
async def client(lsp_client: LanguageClient):
    params = types.InitializeParams(
        capabilities=pytest_lsp.client_capabilities("visual-studio-code")
    )
    await lsp_client.initialize_session(params)
    yield
    await lsp_client.shutdown_session()


async def published(client, uri, version, timeout=20.0):
    """The diagnostics of `uri` at `version`, and when they arrived."""
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        for at, p in client.published:
            if p.uri == uri and p.version == version:
                return at, p.diagnostics
        await asyncio.sleep(0.001)
    raise AssertionError(f"no diagnostics for {uri} version {version} in {timeout} s")


def write(tmp_path: pathlib.Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return path.as_uri()


def open_doc(client, uri, text, version=1):
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=uri, language_id="flow", version=version, text=text
            )
        )
    )


def replace_all(client, uri, text, version):
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)],
        )
    )


def pos(text, needle, nth=0, plus=0):
    """The position of the `nth` `needle` in `text`, `plus` characters in."""
    i = -1
    for _ in range(nth + 1):
        i = text.index(needle, i + 1)
    i += plus
    line = text.count("\n", 0, i)
    col = i - (text.rfind("\n", 0, i) + 1)
    return types.Position(line=line, character=col)


async def open_main(client, tmp_path):
    write(tmp_path, "lib.flow", LIB)
    uri = write(tmp_path, "main.flow", MAIN)
    open_doc(client, uri, MAIN)
    _, diags = await published(client, uri, 1)
    assert diags == [], [d.message for d in diags]
    return uri


async def test_an_error_is_shown_with_its_code_and_range_then_cleared(client, tmp_path):
    broken = MAIN.replace("detail.score", "detail.scor")
    uri = write(tmp_path, "main.flow", broken)
    write(tmp_path, "lib.flow", LIB)
    open_doc(client, uri, broken)
    _, diags = await published(client, uri, 1)
    assert len(diags) == 1, diags
    d = diags[0]
    assert d.code == "E0204"
    assert d.source == "flowc"
    assert d.message == "no field `scor` on type `Detail`"
    start = pos(broken, "scor }")
    assert d.range == types.Range(
        start=start, end=types.Position(line=start.line, character=start.character + 4)
    )
    assert d.severity == types.DiagnosticSeverity.Error
    related = [r.message for r in d.related_information]
    assert "help: did you mean `score`?" in related, related

    # The quick fix of its did-you-mean.
    actions = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            range=d.range,
            context=types.CodeActionContext(diagnostics=[d]),
        )
    )
    assert len(actions) == 1, actions
    edit = actions[0].edit.changes[uri][0]
    assert actions[0].title == "replace `scor` with `score`"
    assert edit.new_text == "score" and edit.range == d.range

    replace_all(client, uri, MAIN, 2)
    _, diags = await published(client, uri, 2)
    assert diags == []


async def test_an_incremental_change_is_checked(client, tmp_path):
    uri = await open_main(client, tmp_path)
    at = pos(MAIN, "0.0 }")
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
            content_changes=[
                types.TextDocumentContentChangePartial(
                    range=types.Range(
                        start=at,
                        end=types.Position(line=at.line, character=at.character + 3),
                    ),
                    text='"none"',
                )
            ],
        )
    )
    _, diags = await published(client, uri, 2)
    assert [d.code for d in diags] == ["E0301"], [d.message for d in diags]


async def test_hover_shows_types_signatures_and_docs(client, tmp_path):
    uri = await open_main(client, tmp_path)

    async def hover(needle, nth=0, plus=1):
        h = await client.text_document_hover_async(
            types.HoverParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                position=pos(MAIN, needle, nth, plus),
            )
        )
        assert h is not None, needle
        return h.contents.value

    # A field: its type.
    assert "float" in await hover("score }", plus=2)
    # A name: its binding and type, with the record written out.
    text = await hover("detail.score", plus=1)
    assert "(let) detail: Detail" in text
    assert "type Detail = { score: float, note: string }" in text
    # A tool call: the signature and its doc comment.
    text = await hover("lookup(id: id", plus=2)
    assert "tool lookup(id: string) -> Detail" in text and "Looks a detail up." in text
    text = await hover("tag(text", plus=1)
    assert "tool tag(text: string) -> string" in text and "Tags a text." in text
    # A built-in: the table's usage and doc.
    text = await hover("len(", plus=1)
    assert "len(" in text
    # An expression: its type.
    assert "bool" in await hover("> 0", plus=1)


async def test_hover_on_a_constant_and_its_use(client, tmp_path):
    text = '/// The most.\nconst LIMIT = 3\n\nflow main() -> int {\n  LIMIT + 1\n}\n'
    uri = write(tmp_path, "consts.flow", text)
    open_doc(client, uri, text)
    await published(client, uri, 1)
    for needle in ["LIMIT =", "LIMIT +"]:
        h = await client.text_document_hover_async(
            types.HoverParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                position=pos(text, needle, plus=1),
            )
        )
        assert "const LIMIT: int" in h.contents.value and "The most." in h.contents.value


async def test_definition_of_a_tool_call_a_binding_and_an_import(client, tmp_path):
    uri = await open_main(client, tmp_path)

    async def definition(needle, nth=0, plus=1):
        return await client.text_document_definition_async(
            types.DefinitionParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                position=pos(MAIN, needle, nth, plus),
            )
        )

    loc = await definition("lookup(id: id", plus=2)
    assert loc.uri == uri
    start = pos(MAIN, "lookup(id: string)")
    assert loc.range.start == start
    assert loc.range.end.character == start.character + len("lookup")

    loc = await definition("detail.note", plus=1)
    assert loc.range.start == pos(MAIN, "detail =")

    loc = await definition("tag(text", plus=1)
    assert loc.uri == (tmp_path / "lib.flow").as_uri()
    assert loc.range.start == pos(LIB, "tag(")

    loc = await definition("lib.flow", plus=1)
    assert loc.uri == (tmp_path / "lib.flow").as_uri()

    loc = await definition("Detail = exec", plus=1)
    assert loc.range.start == pos(MAIN, "Detail =")


async def test_completion_after_a_dot_gives_the_records_fields(client, tmp_path):
    uri = await open_main(client, tmp_path)
    text = MAIN.replace("  let tagged", "  let x = detail.\n  let tagged")
    replace_all(client, uri, text, 2)
    await published(client, uri, 2)
    at = pos(text, "detail.\n", plus=len("detail."))
    items = await client.text_document_completion_async(
        types.CompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri), position=at
        )
    )
    labels = {i.label: i.detail for i in items}
    assert labels == {"score": "float", "note": "string"}, labels


async def test_completion_of_names_arguments_options_and_labels(client, tmp_path):
    uri = await open_main(client, tmp_path)

    async def complete(text, needle, plus):
        replace_all(client, uri, text, complete.version)
        await published(client, uri, complete.version)
        complete.version += 1
        items = await client.text_document_completion_async(
            types.CompletionParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                position=pos(text, needle, plus=plus),
            )
        )
        return [i.label for i in items]

    complete.version = 2
    # Names in scope, at the start of a word.
    text = MAIN.replace("  let tagged", "  let y = de\n  let tagged")
    labels = await complete(text, "de\n", 2)
    assert "detail" in labels and "decide" in labels, labels
    text = MAIN.replace("  let tagged", "  let y = \n  let tagged")
    labels = await complete(text, "y = \n", 4)
    for n in ["detail", "tagged", "id", "lookup", "main", "lib", "len", "context"]:
        assert n in labels, (n, labels)
    # Named arguments of a call.
    text = MAIN.replace("lookup(id: id)", "lookup()")
    assert (await complete(text, "lookup()", 7))[0] == "id"
    # Option keys inside `with { }`.
    text = MAIN.replace("lookup(id: id)", "lookup(id: id) with { ti }")
    labels = await complete(text, "{ ti }", 4)
    assert "timeout" in labels and "retry" not in labels, labels
    # `decide` labels in a test's `mock llm`.
    text = (
        MAIN.replace(
            "if len(tagged) > 0 { detail.score } else { 0.0 }",
            'decide "next?" with detail { keep => detail.score, drop => 0.0 }',
        ).replace("let tagged = lib.tag(text: detail.note)", "")
        + '\ntest "t" {\n  mock llm = "\n}\n'
    )
    labels = await complete(text, 'llm = "', 7)
    assert sorted(labels) == ["drop", "keep"], labels


async def test_rename_changes_every_use_across_imports(client, tmp_path):
    uri = await open_main(client, tmp_path)
    lib = (tmp_path / "lib.flow").as_uri()

    async def rename(needle, plus, new):
        return await client.text_document_rename_async(
            types.RenameParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                position=pos(MAIN, needle, plus=plus),
                new_name=new,
            )
        )

    edit = await rename("detail.note", 1, "found")
    spans = sorted((e.range.start.line, e.range.start.character) for e in edit.changes[uri])
    expected = sorted(
        (p.line, p.character)
        for p in [pos(MAIN, "detail ="), pos(MAIN, "detail.note"), pos(MAIN, "detail.score")]
    )
    assert spans == expected
    assert all(e.new_text == "found" for e in edit.changes[uri])

    # A tool of an imported file: its declaration there and the call here.
    edit = await rename("tag(text", 1, "label")
    assert [e.range.start for e in edit.changes[lib]] == [pos(LIB, "tag(")]
    assert [e.range.start for e in edit.changes[uri]] == [pos(MAIN, "tag(text")]

    # A parameter: its declaration, its uses and the calls' argument names.
    edit = await rename("id: string) -> float", 0, "key")
    assert len(edit.changes[uri]) == 2

    with pytest.raises(Exception, match="not a name"):
        await rename("detail.note", 1, "let")
    with pytest.raises(Exception, match="already bound"):
        await rename("detail.note", 1, "tagged")
    with pytest.raises(Exception, match="already declared"):
        await rename("lookup(id: id", 1, "main")


async def test_signature_help_inside_a_calls_parentheses(client, tmp_path):
    uri = await open_main(client, tmp_path)

    async def help_at(needle, plus):
        return await client.text_document_signature_help_async(
            types.SignatureHelpParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                position=pos(MAIN, needle, plus=plus),
            )
        )

    h = await help_at("lookup(id: id)", len("lookup(id: "))
    sig = h.signatures[0]
    assert sig.label.startswith("tool lookup(id: string) -> "), sig.label
    assert "Looks a detail up." in sig.documentation.value
    assert [p.label for p in sig.parameters] == ["id: string"]
    assert h.active_parameter == 0
    # An imported tool, by its module's name.
    h = await help_at("lib.tag(text", len("lib.tag("))
    assert h.signatures[0].label == "tool tag(text: string) -> string", h.signatures[0].label
    assert h.active_parameter is None, "no argument named yet"
    # Outside a call: nothing.
    assert await help_at("let tagged", 0) is None


async def test_references_and_highlights(client, tmp_path):
    uri = await open_main(client, tmp_path)
    lib = (tmp_path / "lib.flow").as_uri()

    async def refs(needle, plus, with_decl):
        locs = await client.text_document_references_async(
            types.ReferenceParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                position=pos(MAIN, needle, plus=plus),
                context=types.ReferenceContext(include_declaration=with_decl),
            )
        )
        return sorted((l.uri, l.range.start.line, l.range.start.character) for l in locs)

    def at(u, text, needle):
        p = pos(text, needle)
        return (u, p.line, p.character)

    # A binding: its uses, and its declaration when asked.
    uses = [at(uri, MAIN, "detail.note"), at(uri, MAIN, "detail.score")]
    assert await refs("detail.note", 1, False) == sorted(uses)
    assert await refs("detail.note", 1, True) == sorted(uses + [at(uri, MAIN, "detail =")])
    # A tool of an imported file, from its call: the declaration is in the other file.
    assert await refs("tag(text", 1, True) == sorted(
        [at(lib, LIB, "tag("), at(uri, MAIN, "tag(text")]
    )
    # Nothing to refer to (a keyword): no references.
    assert await refs("let detail", 1, True) == []

    # The editor's highlights: this file's uses, the declaration written.
    hl = await client.text_document_document_highlight_async(
        types.DocumentHighlightParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=pos(MAIN, "detail.score", plus=2),
        )
    )
    got = sorted((h.range.start.line, h.range.start.character, h.kind) for h in hl)
    want = sorted(
        [
            (pos(MAIN, "detail =").line, pos(MAIN, "detail =").character, types.DocumentHighlightKind.Write),
            (pos(MAIN, "detail.note").line, pos(MAIN, "detail.note").character, types.DocumentHighlightKind.Read),
            (pos(MAIN, "detail.score").line, pos(MAIN, "detail.score").character, types.DocumentHighlightKind.Read),
        ]
    )
    assert got == want, got


async def test_rename_keeps_a_shorthand_fields_name(client, tmp_path):
    text = "flow main() -> { n: int } {\n  let n = 1\n  { n }\n}\n"
    uri = write(tmp_path, "short.flow", text)
    open_doc(client, uri, text)
    await published(client, uri, 1)
    edit = await client.text_document_rename_async(
        types.RenameParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=pos(text, "n = 1"),
            new_name="count",
        )
    )
    got = sorted((e.range.start.line, e.new_text) for e in edit.changes[uri])
    assert got == [(1, "count"), (2, "n: count")], got


async def test_a_standard_module_and_an_imported_files_error(client, tmp_path):
    text = 'import std.ops\nimport "bad.flow"\n\nflow main() -> json {\n  ops.echo(value: 1)\n}\n'
    write(tmp_path, "bad.flow", "flow f() -> int {\n  nope\n}\n")
    uri = write(tmp_path, "std_user.flow", text)
    open_doc(client, uri, text)
    _, diags = await published(client, uri, 1)
    # The error in the imported file is shown on the import that leads there.
    assert [(d.code, d.range.start.line) for d in diags] == [("E0201", 1)], diags
    assert "bad.flow` at 2:3" in diags[0].message, diags[0].message
    # Go to definition reaches the standard module's text, written to a file.
    for needle, plus in [("echo(", 1), ("std.ops", 5)]:
        loc = await client.text_document_definition_async(
            types.DefinitionParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                position=pos(text, needle, plus=plus),
            )
        )
        path = pathlib.Path(loc.uri.removeprefix("file://"))
        assert path.name == "ops.flow", loc.uri
        lines = path.read_text().splitlines()
        if needle == "echo(":
            assert lines[loc.range.start.line][loc.range.start.character :].startswith("echo(")


async def next_published(client, uri, after, timeout=20.0):
    """The first diagnostics of `uri` published after the first `after` notifications."""
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        for _, p in client.published[after:]:
            if p.uri == uri:
                return p.diagnostics
        await asyncio.sleep(0.001)
    raise AssertionError(f"no new diagnostics for {uri} in {timeout} s")


def files_changed(client, *changes):
    client.workspace_did_change_watched_files(
        types.DidChangeWatchedFilesParams(
            changes=[types.FileEvent(uri=u, type=t) for u, t in changes]
        )
    )


async def test_an_imported_file_changed_on_disk_is_checked_again(client, tmp_path):
    # The server asked the client to watch the `.flow` files (once initialized).
    deadline = time.perf_counter() + 20
    while not client.registrations and time.perf_counter() < deadline:
        await asyncio.sleep(0.01)
    watched = [
        r.register_options["watchers"][0]["globPattern"]
        for r in client.registrations
        if r.method == types.WORKSPACE_DID_CHANGE_WATCHED_FILES
    ]
    assert watched == ["**/*.flow"], client.registrations
    text = 'import "lib.flow"\n\nflow main() -> string {\n  lib.tag(text: "x")\n}\n'
    uri = write(tmp_path, "user.flow", text)
    open_doc(client, uri, text)
    _, diags = await published(client, uri, 1)
    assert [d.code for d in diags] == ["E0205"], [d.message for d in diags]
    # The missing file is written (by another program): the importer is checked again.
    seen = len(client.published)
    lib = write(tmp_path, "lib.flow", "tool tag(text: string) -> int = exec [\"true\"]\n")
    files_changed(client, (lib, types.FileChangeType.Created))
    diags = await next_published(client, uri, seen)
    assert [d.code for d in diags] == ["E0301"], [d.message for d in diags]
    # Fixed on disk: the error goes.
    seen = len(client.published)
    write(tmp_path, "lib.flow", LIB)
    files_changed(client, (lib, types.FileChangeType.Changed))
    diags = await next_published(client, uri, seen)
    assert diags == [], [d.message for d in diags]
    # A change to a file the program does not read checks nothing again.
    seen = len(client.published)
    other = write(tmp_path, "other.flow", "flow other() -> int { 1 }\n")
    files_changed(client, (other, types.FileChangeType.Created))
    await asyncio.sleep(0.5)
    assert [p for _, p in client.published[seen:] if p.uri == uri] == []


async def test_document_symbols(client, tmp_path):
    uri = await open_main(client, tmp_path)
    symbols = await client.text_document_document_symbol_async(
        types.DocumentSymbolParams(text_document=types.TextDocumentIdentifier(uri=uri))
    )
    assert [(s.name, s.kind) for s in symbols] == [
        ("Detail", types.SymbolKind.Struct),
        ("lookup", types.SymbolKind.Function),
        ("main", types.SymbolKind.Function),
    ]
    assert [(c.name, c.kind) for c in symbols[2].children] == [
        ("detail", types.SymbolKind.Variable),
        ("tagged", types.SymbolKind.Variable),
    ]


async def test_a_schedule_is_checked_hovered_and_left_out_of_the_outline(client, tmp_path):
    text = (
        "/// Looks at the last minutes.\n"
        "flow main(within_minutes: int) -> int {\n"
        "    let ok = approve \"Go on?\" within 30m\n"
        "    if ok { within_minutes } else { 0 }\n"
        "}\n"
        "\n"
        "schedule \"61 * * * *\" main(within_minutes: 10)\n"
    )
    uri = write(tmp_path, "sched.flow", text)
    open_doc(client, uri, text)
    _, diags = await published(client, uri, 1)
    assert [d.code for d in diags] == ["E0519"], [d.message for d in diags]
    assert diags[0].range.start == pos(text, '"61')
    # The scheduled call is a call: hover shows the flow.
    h = await client.text_document_hover_async(
        types.HoverParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=pos(text, "main(within_minutes: 10", plus=1),
        )
    )
    assert h is not None and "flow main(within_minutes: int)" in h.contents.value
    symbols = await client.text_document_document_symbol_async(
        types.DocumentSymbolParams(text_document=types.TextDocumentIdentifier(uri=uri))
    )
    assert [s.name for s in symbols] == ["main"]
    fixed = text.replace('"61 * * * *"', '"*/5 * * * *"')
    replace_all(client, uri, fixed, 2)
    _, diags = await published(client, uri, 2)
    assert diags == [], [d.message for d in diags]


async def test_formatting_gives_flowc_fmts_output(client, tmp_path):
    uri = await open_main(client, tmp_path)
    edits = await client.text_document_formatting_async(
        types.DocumentFormattingParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            options=types.FormattingOptions(tab_size=4, insert_spaces=True),
        )
    )
    expected = subprocess.run(
        [FLOWC, "fmt"], input=MAIN, capture_output=True, text=True, check=True
    ).stdout
    assert expected != MAIN
    assert len(edits) == 1
    assert edits[0].range.start == types.Position(line=0, character=0)
    assert edits[0].range.end == pos(MAIN, "}\n", MAIN.count("}\n") - 1, 2)
    assert edits[0].new_text == expected

    # Formatted already: no edit. With a syntax error: refused, saying why.
    replace_all(client, uri, expected, 2)
    await published(client, uri, 2)
    assert await client.text_document_formatting_async(
        types.DocumentFormattingParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            options=types.FormattingOptions(tab_size=4, insert_spaces=True),
        )
    ) == []
    replace_all(client, uri, expected.replace("detail.score", "detail."), 3)
    await published(client, uri, 3)
    with pytest.raises(Exception, match="syntax errors"):
        await client.text_document_formatting_async(
            types.DocumentFormattingParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                options=types.FormattingOptions(tab_size=4, insert_spaces=True),
            )
        )


async def test_a_2000_line_file_gets_diagnostics_soon_after_a_change(client, tmp_path):
    """Responsiveness: the time from sending a change of a 2,000-line file to
    its diagnostics arriving. Printed; the bound asserted is generous."""
    flows = []
    for i in range(225):
        flows.append(
            f"flow step{i}(id: string) -> float {{\n"
            f"  let detail = lookup(id: id)\n"
            f"  let note = detail.note ++ \"-{i}\"\n"
            f"  let n = len(note)\n"
            f"  let doubled = detail.score * 2.0\n"
            f"  let rows = for x in [1, 2, 3] {{ x * n }}\n"
            f"  if len(rows) > {i} {{ doubled }} else {{ detail.score }}\n"
            f"}}\n\n"
        )
    head = (
        "type Detail = { score: float, note: string }\n\n"
        'tool lookup(id: string) -> Detail = exec ["true"]\n\n'
    )
    text = head + "".join(flows)
    assert text.count("\n") >= 2000
    uri = write(tmp_path, "big.flow", text)
    open_doc(client, uri, text)
    _, diags = await published(client, uri, 1)
    assert [d for d in diags if d.severity == types.DiagnosticSeverity.Error] == []
    times = []
    for version in range(2, 12):
        # Alternate between a broken and a good text: each change has an answer.
        changed = text.replace("detail.note ++", "detail.nte ++", 1) if version % 2 else text
        sent = time.perf_counter()
        replace_all(client, uri, changed, version)
        at, diags = await published(client, uri, version)
        times.append((at - sent) * 1000)
        errors = [d for d in diags if d.severity == types.DiagnosticSeverity.Error]
        assert len(errors) == (1 if version % 2 else 0)
    times.sort()
    median = times[len(times) // 2]
    report = os.environ.get("FLOWC_LSP_TIMING")
    line = (
        f"diagnostics of a {text.count(chr(10))}-line file after a change: "
        f"median {median:.1f} ms, max {times[-1]:.1f} ms over {len(times)} changes"
    )
    print(line)
    if report:
        pathlib.Path(report).write_text(line + "\n")
    assert median < 2000, line
