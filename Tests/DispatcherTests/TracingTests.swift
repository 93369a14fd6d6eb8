import API
import Dispatcher
import Foundation
import InMemoryTracing
import PushCore
import PushJob
import Storage
import Testing
import Tracing
import UserSig

/// Issue 28 section 3: a push's path as one trace, from the REST command through the queue to the
/// vendor request; nothing traced or carried without a tracer.
@Suite("Tracing a push")
struct TracingTests {
    static func send(_ api: RestAPI, _ h: DispatchHarness, random: Int) async throws -> String {
        let sig = UserSig.generate(sdkAppID: DispatchHarness.app, key: h.config.apps[0].secretKey, identifier: "administrator", time: h.clock.nowSeconds())
        let body = #"{"From_Account": "alice", "To_Account": "bob", "MsgRandom": \#(random), "MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "hi"}}]}"#
        let reply = await api.handle(
            service: "openim", command: "sendmsg", query: ["sdkappid": "\(DispatchHarness.app)", "identifier": "administrator", "usersig": sig],
            body: Data(body.utf8)
        )
        let object = try JSONSerialization.jsonObject(with: reply.json) as? [String: Any] ?? [:]
        return try #require(object["MsgKey"] as? String, "\(object)")
    }

    @Test("the request's span, the job's span and the vendor request's span are one trace, parent to child; untraced, a job carries nothing")
    func oneTrace() async throws {
        let h = try await DispatchHarness()
        let tracer = InMemoryTracer()
        let dispatcher = try h.makeDispatcher(tracer: tracer)
        let task = Task { try await dispatcher.run() }
        try await h.store.importAccounts(sdkAppID: DispatchHarness.app, [("alice", [:]), ("bob", [:])])
        try await h.register("bob", "phone", .apns, n: 1)
        try await h.register("bob", "pad", .fcm, n: 2)

        let traced = RestAPI(config: h.config, store: h.store, clock: h.clock, tracer: tracer)
        // The request's span, as the HTTP middleware opens it around the command.
        let msgKey = try await tracer.withSpan("POST /v4/openim/sendmsg", ofKind: .server) { _ in try await Self.send(traced, h, random: 1) }
        try await h.eventually("both sends traced") { tracer.finishedSpans.filter { $0.operationName.hasPrefix("pushd.send") }.count == 2 }
        try await h.eventually("the job's span ended") { tracer.finishedSpans.contains { $0.operationName == "pushd.dispatch" } }
        let spans = tracer.finishedSpans
        let request = try #require(spans.first { $0.operationName == "POST /v4/openim/sendmsg" })
        let job = try #require(spans.first { $0.operationName == "pushd.dispatch" })
        let sends = spans.filter { $0.operationName.hasPrefix("pushd.send") }
        #expect(job.traceID == request.traceID && job.parentSpanID == request.spanID && job.kind == .consumer)
        #expect(job.attributes["pushd.job"]?.toSpanAttribute() == .string("\(msgKey):bob"))
        #expect(Set(sends.map(\.operationName)) == ["pushd.send apns", "pushd.send fcm"])
        #expect(sends.allSatisfy { $0.traceID == request.traceID && $0.parentSpanID == job.spanID && $0.kind == .client })
        #expect(sends.allSatisfy { $0.attributes["pushd.outcome"]?.toSpanAttribute() == .string("Delivered") })

        // Without a tracer the API writes no context into the job, and nothing more is traced.
        tracer.clearAll()
        let untraced = RestAPI(config: h.config, store: h.store, clock: h.clock)
        let plain = try await tracer.withSpan("POST /v4/openim/sendmsg", ofKind: .server) { _ in try await Self.send(untraced, h, random: 2) }
        try await h.eventually("delivered") { try await h.records("\(plain):bob").count == 2 }
        #expect(!tracer.finishedSpans.contains { $0.operationName.hasPrefix("pushd.") }, "an untraced job is not traced by the dispatcher")
        task.cancel()
        _ = await task.result
        await h.shutdown()
    }

    @Test("a job's trace context is kept in the stored job and read back; a job without one decodes to none")
    func carrierRoundTrip() throws {
        var spec = PushJobSpec(sdkAppID: 1, msgBody: .empty)
        #expect(try PushJobSpec.decode(spec.encoded()).trace == nil)
        #expect(!String(decoding: try spec.encoded(), as: UTF8.self).contains("Trace"), "untraced jobs are stored as before")
        spec.trace = ["traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"]
        #expect(try PushJobSpec.decode(spec.encoded()).trace == spec.trace)
        #expect(throws: TencentError.self) { try PushJobSpec.decode(Data(#"{"SdkAppID": 1, "MsgBody": [], "Trace": "x"}"#.utf8)) }
    }
}
