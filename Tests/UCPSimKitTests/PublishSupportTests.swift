import Foundation
import Testing

@testable import UCPSimKit

@Suite struct PublishSupportTests {
    /// Records what ran, in order, from any task.
    actor Log {
        var entries: [String] = []
        func add(_ entry: String) { entries.append(entry) }
    }

    /// Work for one key waits for the work before it; work for another key does not.
    @Test func keyedSerializerRunsOneKeyAtATime() async throws {
        let serializer = KeyedSerializer<String>()
        let log = Log()
        let (gate, opener) = AsyncStream<Void>.makeStream()
        let (started, starter) = AsyncStream<Void>.makeStream()
        let first = Task {
            await serializer.run("order-1") {
                await log.add("1 start")
                starter.yield()
                for await _ in gate { break }
                await log.add("1 end")
            }
        }
        for await _ in started { break }
        let second = Task { await serializer.run("order-1") { await log.add("2") } }
        // Another order is not held up by order-1's running work.
        await serializer.run("order-2") { await log.add("other") }
        #expect(await log.entries == ["1 start", "other"])
        opener.yield()
        await first.value
        await second.value
        #expect(await log.entries == ["1 start", "other", "1 end", "2"])
        // A throwing work releases its key.
        struct Boom: Error {}
        await #expect(throws: Boom.self) {
            try await serializer.run("order-1") { () throws(Boom) in throw Boom() }
        }
        await serializer.run("order-1") { await log.add("after") }
        #expect(await log.entries.last == "after")
    }

    @Test func bodyOverrideSetsNestedFieldsAsJSONOrText() throws {
        let body = Array(#"{"data":{"new_status":"SHIPPED","items":[{"quantity":1}]},"event_type":"x"}"#.utf8)
        let status = try BodyOverride(parsing: "data.new_status=FAILED").apply(to: body)
        let quantity = try BodyOverride(parsing: "data.items.0.quantity=3").apply(to: status)
        let added = try BodyOverride(parsing: "metadata.note={\"a\":true}").apply(to: quantity)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(added)) as? [String: Any])
        let data = try #require(object["data"] as? [String: Any])
        #expect(data["new_status"] as? String == "FAILED")
        #expect(((data["items"] as? [[String: Any]])?.first?["quantity"] as? Int) == 3)
        #expect(((object["metadata"] as? [String: Any])?["note"] as? [String: Bool]) == ["a": true])
        #expect(throws: UCPSimError.self) { try BodyOverride(parsing: "no-equals") }
        #expect(throws: UCPSimError.self) { try BodyOverride(parsing: "a..b=1") }
        #expect(throws: UCPSimError.self) { try BodyOverride(parsing: "data.items.5.quantity=1").apply(to: body) }
        #expect(throws: UCPSimError.self) { try BodyOverride(parsing: "event_type.x=1").apply(to: body) }
    }
}
