import Foundation

extension Scenario {
    /// How far the scenario's `advance:` steps move its clock, in all.
    public var totalAdvance: TimeInterval {
        steps.reduce(0) { total, step in
            if case .advance(let seconds) = step.action { return total + seconds }
            return total
        }
    }

    /// Where the scenario clock starts when run now: early enough that its last event happens no later than now,
    /// so no `Webhook-Timestamp` or `occurred_at` ever lies in the future.
    public func anchoredStart(now: Date = Date()) -> Date {
        now.addingTimeInterval(-totalAdvance)
    }

    /// The name of the transition a step applies (`interaction` for an interaction; nil for `advance`).
    public static func transitionName(_ step: Step) -> String? {
        switch step.action {
        case .advance: nil
        case .interaction: "interaction"
        case .place: "place"
        case .checkout: "checkout"
        case .transition(let transition): transition.name
        }
    }
}
