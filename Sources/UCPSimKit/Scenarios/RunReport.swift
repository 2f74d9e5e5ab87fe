import Foundation

/// Machine-readable and JUnit renderings of a scenario run.
public enum RunReport {
    /// JSON: one object per delivery.
    public static func json(_ results: [StepResult]) -> [UInt8] {
        let rows: [[String: Any]] = results.map { result in
            var row: [String: Any] = [
                "scenario": result.scenario, "step": result.step, "line": result.line, "order": result.orderID,
                "transition": result.transition, "webhook_id": result.webhookID, "attempts": result.attempts,
                "ms": (result.milliseconds * 10).rounded() / 10, "expected": result.expectation.description,
                "passed": result.passed, "detail": result.detail,
            ]
            row["status"] = result.status ?? NSNull()
            return row
        }
        let document: [String: Any] = [
            "passed": results.allSatisfy(\.passed), "deliveries": results.count,
            "failures": results.filter { !$0.passed }.count, "results": rows,
        ]
        return [UInt8](
            (try? JSONSerialization.data(withJSONObject: document, options: [.prettyPrinted, .sortedKeys])) ?? Data()
        )
    }

    /// JUnit XML: a test suite per scenario, a test case per step and order.
    public static func junit(_ results: [StepResult]) -> String {
        var xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        let failures = results.filter { !$0.passed }.count
        xml += "<testsuites name=\"ucpsim\" tests=\"\(results.count)\" failures=\"\(failures)\">\n"
        var order: [String] = []
        var byScenario: [String: [StepResult]] = [:]
        for result in results {
            if byScenario[result.scenario] == nil { order.append(result.scenario) }
            byScenario[result.scenario, default: []].append(result)
        }
        for scenario in order {
            let cases = byScenario[scenario]!
            let time = cases.reduce(0) { $0 + $1.milliseconds } / 1000
            xml +=
                "  <testsuite name=\"\(escape(scenario))\" tests=\"\(cases.count)\" failures=\"\(cases.filter { !$0.passed }.count)\" time=\"\(String(format: "%.3f", time))\">\n"
            for result in cases {
                let name = "step \(result.step): \(result.transition) \(result.orderID)"
                xml +=
                    "    <testcase classname=\"\(escape(scenario))\" name=\"\(escape(name))\" time=\"\(String(format: "%.3f", result.milliseconds / 1000))\""
                if result.passed {
                    xml += "/>\n"
                } else {
                    let got = result.status.map { "HTTP \($0)" } ?? "no response"
                    xml +=
                        ">\n      <failure message=\"\(escape("expected \(result.expectation), got \(got)"))\">\(escape("webhook-id \(result.webhookID)\n\(result.detail)"))</failure>\n    </testcase>\n"
                }
            }
            xml += "  </testsuite>\n"
        }
        return xml + "</testsuites>\n"
    }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}
