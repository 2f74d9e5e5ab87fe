#!/usr/bin/env python3
"""Writes Sources/UCPSimKit/Fixtures/DemoOrder.swift from fixtures/order-created.json (run from the repo root)."""
import pathlib

body = pathlib.Path("fixtures/order-created.json").read_text()
assert '"""#' not in body, "the fixture cannot hold a raw string delimiter"
indented = "\n".join(("        " + line) if line else "" for line in body.split("\n"))
pathlib.Path("Sources/UCPSimKit/Fixtures/DemoOrder.swift").write_text(
    f'''/// The order `ucpsim demo` sends, built into the binary so the demo runs from any directory: the bytes of
/// `fixtures/order-created.json` (a test checks they are equal, so the two never drift apart).
public enum DemoOrder {{
    /// The snapshot's exact bytes.
    public static var bytes: [UInt8] {{ Array(text.utf8) }}

    /// `fixtures/order-created.json`, byte for byte (no final newline, like the file). Regenerate with
    /// `python3 Tests/tools/embed_demo_order.py`.
    static let text = #"""
{indented}
        """#
}}
'''
)
