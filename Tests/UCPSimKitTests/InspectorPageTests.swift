import Foundation
import HTTPTypes
import Testing

@testable import UCPSimKit

/// `serve`'s inspector page (`GET /inspector`): the document and its headers over real HTTP, and a real browser
/// (headless Chromium, `Tests/tools/inspector_browser.py`) on a real `ucpsim serve` watching deliveries arrive, opening
/// one, resending it to a second receiver, and staying bounded and live through 1,000 more deliveries.
@Suite struct InspectorPageTests {
    /// The page is served without a token, holds no delivery data, allows only its own inline style and script, and
    /// escapes the shop's name.
    @Test func thePageIsAStaticDocumentUnderAStrictPolicy() async throws {
        let page = DeliveriesPage(shopName: "<b>Mugs</b> & Co", baseURL: "http://127.0.0.1:1")
        let html = String(decoding: page.page.html, as: UTF8.self)
        #expect(html.contains("&lt;b&gt;Mugs&lt;/b&gt; &amp; Co") && !html.contains("<b>Mugs"))
        #expect(!html.contains("innerHTML") && !html.contains("outerHTML") && !html.contains("insertAdjacentHTML"))
        for name in EventType.names { #expect(html.contains("<option value=\"\(name)\">\(name)</option>")) }
        let name = try #require(HTTPField.Name("Content-Security-Policy"))
        let policy = try #require(page.page.headers[name])
        #expect(policy.hasPrefix("default-src 'none'; script-src 'sha256-") && policy.contains("connect-src 'self'"))

        try await CheckoutJourneyTests.withShop(["--api-token", "tok_page"]) { base in
            let client = HTTPClient(workers: 1)
            defer { Task { await client.shutdown() } }
            let response = try await client.send(OutgoingRequest(method: "GET", url: "\(base)/inspector"))
            #expect(response.status == 200)
            #expect(response.headers["content-type"] == "text/html; charset=utf-8")
            #expect(response.headers["x-frame-options"] == "DENY")
            #expect(response.headers["cache-control"] == "no-store")
            let text = String(decoding: response.body, as: UTF8.self)
            #expect(text.contains("id=\"app\"") && text.contains(base) && !text.contains("tok_page"))
        }
    }

    /// The browser run: a delivery appears without a reload, its panel shows the headers, signature base and the
    /// `<script>` title as text, Resend to a second receiver adds an attempt (that receiver gets the same
    /// `Webhook-Id` and bytes); then 1,000 deliveries with the page open: at most 200 rows, still live. The page's JS
    /// heap and serve's RSS before and after are printed (measured, not timed).
    @Test func aRealBrowserWatchesDeliveriesAndResends() async throws {
        let deliveries = Int(ProcessInfo.processInfo.environment["UCPSIM_INSPECTOR_DELIVERIES"] ?? "") ?? 1000
        let directory = TestSupport.temporaryDirectory()
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let screenshot =
            ProcessInfo.processInfo.environment["UCPSIM_INSPECTOR_SCREENSHOT"] ?? directory + "/inspector.png"
        let first = try await ScriptedReceiver.start { _, _ in .init(status: 200) }
        let second = try await ScriptedReceiver.start { _, _ in .init(status: 200) }
        let state = directory + "/state"
        let serve = try ServeProcess.start([
            "--state", state, "--api-token", "tok_inspector", "--webhook-url", first.url,
        ])
        let run: (status: Int32, stdout: String, stderr: String)
        do {
            let base = try await serve.baseURL()
            #expect(try await serve.waitForOutput("inspector: \(base)/inspector"))
            run = try await TestSupport.run(
                TestSupport.python,
                [
                    TestSupport.path("Tests/tools/inspector_browser.py"), "--shop", base, "--token", "tok_inspector",
                    "--resend-url", second.url, "--dead-url", "\(second.server.baseURL)/nowhere", "--deliveries",
                    String(deliveries),
                    "--serve-pid", String(serve.processIdentifier), "--screenshot", screenshot,
                ]
            )
        } catch {
            let exit = await serve.interrupt(SIGTERM)
            Issue.record("serve's stderr: \(exit.stderr)")
            throw error
        }
        _ = await serve.interrupt(SIGTERM)
        await first.stop()
        await second.stop()
        let line = run.stdout.split(separator: "\n").last.map(String.init) ?? ""
        let result = try #require(
            try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
            "inspector_browser.py printed no JSON line: \(run.stdout) \(run.stderr)"
        )
        print("inspector_browser.py: \(line)")
        #expect(run.status == 0, "\(result["failures"] ?? run.stderr)")
        #expect(result["ok"] as? Bool == true)
        // The resend reached the second receiver with the same Webhook-Id and the same bytes.
        let eventID = try #require(result["event_id"] as? String)
        let original = try #require(first.received.first { $0.webhookID == eventID })
        let resent = try #require(second.received.first { $0.webhookID == eventID })
        #expect(resent.body == original.body)
        let measured = try #require(result["measurements"] as? [String: Any])
        if deliveries > 0 {
            #expect((measured["rows_after"] as? Int ?? .max) <= DeliveriesPage.rowLimit)
            #expect((measured["rows_after_older"] as? Int ?? .max) <= DeliveriesPage.rowLimit)
            let before = try #require(measured["rss_before_kb"] as? Int)
            let after = try #require(measured["rss_after_kb"] as? Int)
            #expect(after - before < 200 * 1024, "serve's RSS grew from \(before) kB to \(after) kB")
        }
        let size = try FileManager.default.attributesOfItem(atPath: screenshot)[.size] as? Int
        #expect((size ?? 0) > 10_000)
    }
}
