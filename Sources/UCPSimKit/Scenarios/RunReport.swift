import Foundation

/// Machine-readable and JUnit renderings of a scenario run.
public enum RunReport {
    /// JSON: one object per delivery. `incomplete` says why the run ended before its last step (the run then has
    /// not passed, whatever the deliveries that ended).
    public static func json(_ results: [StepResult], incomplete: String? = nil) -> [UInt8] {
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
        var document: [String: Any] = [
            "passed": incomplete == nil && results.allSatisfy(\.passed), "deliveries": results.count,
            "failures": results.filter { !$0.passed }.count, "results": rows, "complete": incomplete == nil,
        ]
        if let incomplete { document["stopped"] = incomplete }
        return [UInt8](
            (try? JSONSerialization.data(withJSONObject: document, options: [.prettyPrinted, .sortedKeys])) ?? Data()
        )
    }

    /// JUnit XML: a test suite per scenario, a test case per step and order; a run that ended early adds a failed
    /// case `run` saying why, so that a CI reading the report never sees a stopped run as green.
    public static func junit(_ results: [StepResult], incomplete: String? = nil) -> String {
        let stop = incomplete.map {
            JUnitReport.Case(suite: "ucpsim", name: "run", seconds: 0, failure: ("the run did not finish", $0))
        }
        return JUnitReport.render(
            results.map { result in
                JUnitReport.Case(
                    suite: result.scenario,
                    name: "step \(result.step): \(result.transition) \(result.orderID)",
                    seconds: result.milliseconds / 1000,
                    failure: result.passed
                        ? nil
                        : (
                            "expected \(result.expectation), got \(result.status.map { "HTTP \($0)" } ?? "no response")",
                            "webhook-id \(result.webhookID)\n\(result.detail)"
                        )
                )
            } + (stop.map { [$0] } ?? [])
        )
    }
}

/// JUnit XML, as CI systems read it.
public enum JUnitReport {
    public struct Case: Sendable {
        public var suite: String
        public var name: String
        public var seconds: Double
        /// Message and details, nil when the case passed.
        public var failure: (message: String, detail: String)?

        public init(suite: String, name: String, seconds: Double, failure: (message: String, detail: String)?) {
            self.suite = suite
            self.name = name
            self.seconds = seconds
            self.failure = failure
        }
    }

    /// A test suite per distinct `suite`, in first-seen order.
    public static func render(_ cases: [Case]) -> String {
        var xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        let failures = cases.filter { $0.failure != nil }.count
        xml += "<testsuites name=\"ucpsim\" tests=\"\(cases.count)\" failures=\"\(failures)\">\n"
        var order: [String] = []
        var bySuite: [String: [Case]] = [:]
        for item in cases {
            if bySuite[item.suite] == nil { order.append(item.suite) }
            bySuite[item.suite, default: []].append(item)
        }
        for suite in order {
            let items = bySuite[suite] ?? []
            let time = items.reduce(0) { $0 + $1.seconds }
            xml +=
                "  <testsuite name=\"\(escape(suite))\" tests=\"\(items.count)\" failures=\"\(items.filter { $0.failure != nil }.count)\" time=\"\(String(format: "%.3f", time))\">\n"
            for item in items {
                xml +=
                    "    <testcase classname=\"\(escape(suite))\" name=\"\(escape(item.name))\" time=\"\(String(format: "%.3f", item.seconds))\""
                if let failure = item.failure {
                    xml +=
                        ">\n      <failure message=\"\(escape(failure.message))\">\(escape(failure.detail))</failure>\n    </testcase>\n"
                } else {
                    xml += "/>\n"
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
