import Foundation
import Messaging
import PushCore
import Storage
import Testing

/// Tags, attributes, audience selection and campaign bookkeeping: one contract, both backends.
@Suite("Campaign contract")
struct CampaignContractTests {
    static let app: UInt64 = 1_400_000_000
    static let lease: Int64 = 15_000

    @Test("tags and attributes: set, read, remove; a tag add over the per-user limit writes nothing", arguments: Backend.available)
    func tagsAndAttributes(_ backend: Backend) async throws {
        try await withStore(backend) { _, store in
            let app = Self.app
            try await store.setAttributeNames(sdkAppID: app, ["0": "sex", "1": "city"])
            #expect(try await store.attributeNames(sdkAppID: app) == ["0": "sex", "1": "city"])
            try await store.setAttributeNames(sdkAppID: app, ["0": "sex"])
            #expect(try await store.attributeNames(sdkAppID: app) == ["0": "sex"], "the names are replaced as a whole")

            try await store.setAttributes(sdkAppID: app, [("u1", ["sex": "f", "city": "sz"]), ("u2", ["sex": "m"])])
            try await store.setAttributes(sdkAppID: app, [("u1", ["sex": "m"])])
            #expect(try await store.attributes(sdkAppID: app, userIDs: ["u1", "u2", "u3"]) == ["u1": ["sex": "m", "city": "sz"], "u2": ["sex": "m"], "u3": [:]])
            try await store.removeAttributes(sdkAppID: app, [("u1", ["city", "nope"])])
            #expect(try await store.attributes(sdkAppID: app, userIDs: ["u1"]) == ["u1": ["sex": "m"]])

            #expect(try await store.addTags(sdkAppID: app, [("u1", ["b", "a"]), ("u2", ["a"])], maxPerUser: 3).isEmpty)
            #expect(try await store.addTags(sdkAppID: app, [("u1", ["a", "c"])], maxPerUser: 3).isEmpty, "an existing tag is not counted twice")
            let over = try await store.addTags(sdkAppID: app, [("u2", ["x"]), ("u1", ["d"])], maxPerUser: 3)
            #expect(over == ["u1"])
            #expect(try await store.tags(sdkAppID: app, userIDs: ["u1", "u2", "u3"]) == ["u1": ["a", "b", "c"], "u2": ["a"], "u3": []], "all or nothing")
            try await store.removeTags(sdkAppID: app, [("u1", ["b"])])
            try await store.removeAllTags(sdkAppID: app, userIDs: ["u2"])
            #expect(try await store.tags(sdkAppID: app, userIDs: ["u1", "u2"]) == ["u1": ["a", "c"], "u2": []])
            _ = try await store.deleteAccounts(sdkAppID: app, userIDs: ["u1"])
            #expect(try await store.tags(sdkAppID: app, userIDs: ["u1"]) == ["u1": []], "deleting an account takes its tags")
            #expect(try await store.attributes(sdkAppID: app, userIDs: ["u1"]) == ["u1": [:]])
        }
    }

    @Test("audience selection by tags and attributes matches a brute-force model on 3,000 users, in pages", arguments: Backend.available)
    func selection(_ backend: Backend) async throws {
        try await withStore(backend) { _, store in
            let app = Self.app
            // Ids of varied length and case so byte order differs from numeric order.
            let users = (0..<3_000).map { i in i % 7 == 0 ? "U\(i)" : "u\(i)" }
            var tags: [String: Set<String>] = [:]
            var attrs: [String: [String: String]] = [:]
            for (i, user) in users.enumerated() {
                var t = Set<String>()
                if i % 2 == 0 { t.insert("even") }
                if i % 3 == 0 { t.insert("three") }
                if i % 5 == 0 { t.insert("five") }
                if i % 11 == 0 { t.insert("标签") }
                tags[user] = t
                attrs[user] = ["city": ["sz", "bj", "sh"][i % 3], "sex": i % 4 == 0 ? "f" : "m"]
            }
            // Every user is imported except the last 100 (tags may name users not imported yet).
            try await store.importAccounts(sdkAppID: app, users.dropLast(100).map { ($0, [:]) })
            for chunk in stride(from: 0, to: users.count, by: 100) {
                let slice = users[chunk..<min(chunk + 100, users.count)]
                #expect(try await store.addTags(sdkAppID: app, slice.map { ($0, tags[$0]!.sorted()) }, maxPerUser: 100).isEmpty)
                try await store.setAttributes(sdkAppID: app, slice.map { ($0, attrs[$0]!) })
            }
            func holds(_ user: String, _ term: AudienceTerm) -> Bool {
                switch term {
                case .tag(let tag): tags[user]!.contains(tag)
                case .attr(let name, let value): attrs[user]![name] == value
                }
            }
            let imported = Set(users.dropLast(100))
            let cases: [Audience] = [
                .everyone,
                Audience(all: [.tag("even")]),
                Audience(all: [.tag("even"), .tag("three")]),
                Audience(any: [.tag("five"), .tag("标签"), .tag("none")]),
                Audience(all: [.tag("three")], any: [.tag("even"), .tag("five")]),
                Audience(all: [.attr(name: "city", value: "sz"), .attr(name: "sex", value: "f")]),
                Audience(any: [.attr(name: "city", value: "bj"), .attr(name: "sex", value: "f")]),
                Audience(all: [.tag("missing")]),
            ]
            for audience in cases {
                let expected = users.filter { user in
                    if audience.isEveryone { return imported.contains(user) }
                    return audience.all.allSatisfy { holds(user, $0) } && (audience.any.isEmpty || audience.any.contains { holds(user, $0) })
                }
                for pageSize in [1, 97, 5_000] where pageSize != 1 || expected.count < 400 {
                    var cursor = ""
                    var walked: [String] = []
                    var steps = 0
                    while true {
                        let page = try await store.audiencePage(sdkAppID: app, audience, after: cursor, limit: pageSize)
                        walked += page.users
                        cursor = page.cursor
                        steps += 1
                        if page.done { break }
                    }
                    #expect(Set(walked) == Set(expected), "\(audience) in pages of \(pageSize)")
                    #expect(walked.count == expected.count, "no user twice: \(audience)")
                    #expect(walked == walked.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }, "ascending bytes")
                }
                #expect(try await store.audienceSize(sdkAppID: app, audience, page: 500) == expected.count)
            }
        }
    }

    func newCampaign(_ task: String, random: Int64, audience: Audience = .everyone) -> NewCampaign {
        NewCampaign(
            sdkAppID: Self.app, taskID: task, msgRandom: random, audience: audience,
            template: Data(#"{"SdkAppID":1400000000,"Lane":"campaign","MsgBody":[]}"#.utf8), countsForBadge: false
        )
    }

    @Test("creating a campaign: MsgRandom de-duplication over the window, the interval, the daily quota", arguments: Backend.available)
    func quotas(_ backend: Backend) async throws {
        try await withStore(backend) { fixture, store in
            let quota = CampaignQuota(perDay: 3, minIntervalMillis: 1_000, dedupeWindowMillis: 7 * 86_400_000)
            #expect(try await store.createCampaign(newCampaign("t1", random: 1), quota: quota) == .created)
            #expect(try await store.createCampaign(newCampaign("t2", random: 1), quota: quota) == .duplicate(taskID: "t1"))
            fixture.clock.advance(millis: 1_000)
            #expect(try await store.createCampaign(newCampaign("t2", random: 2), quota: quota) == .tooFrequent, "1 s apart is not more than 1 s")
            fixture.clock.advance(millis: 1)
            #expect(try await store.createCampaign(newCampaign("t2", random: 2), quota: quota) == .created)
            fixture.clock.advance(seconds: 10)
            #expect(try await store.createCampaign(newCampaign("t3", random: 3), quota: quota) == .created)
            fixture.clock.advance(seconds: 10)
            #expect(try await store.createCampaign(newCampaign("t4", random: 4), quota: quota) == .quotaExceeded)
            fixture.clock.advance(seconds: 86_400 - 20)
            #expect(try await store.createCampaign(newCampaign("t4", random: 4), quota: quota) == .created, "the first left the 24 hours")
            #expect(try await store.createCampaign(newCampaign("t9", random: 1), quota: quota) == .duplicate(taskID: "t1"), "still within 7 days")
            fixture.clock.advance(seconds: 7 * 86_400)
            #expect(try await store.createCampaign(newCampaign("t5", random: 1), quota: quota) == .created)
            let status = try #require(try await store.campaign(sdkAppID: Self.app, taskID: "t2"))
            #expect(status.state == .running && status.users == 0 && status.audienceSize == nil)
            #expect(try await store.campaign(sdkAppID: Self.app, taskID: "nope") == nil)
        }
    }

    @Test("a walk: leased to one walker, steps move the cursor with their jobs, outcomes are counted, the last push finishes it", arguments: Backend.available)
    func walk(_ backend: Backend) async throws {
        try await withStore(backend) { fixture, store in
            #expect(try await store.createCampaign(newCampaign("t1", random: 1), quota: CampaignQuota()) == .created)
            let walk = try #require(try await store.leaseCampaign(leaseMillis: Self.lease))
            #expect(walk.taskID == "t1" && walk.cursor == "" && walk.backlog == 0)
            #expect(try await store.leaseCampaign(leaseMillis: Self.lease) == nil, "one walker at a time")
            try await store.setAudienceSize(walk, size: 3)

            let first = try #require(
                try await store.advanceCampaign(
                    walk, cursor: "b", users: 2, usersWithoutDevice: 0, devices: 3, jobs: [walk.job(for: "a"), walk.job(for: "b")], last: false,
                    leaseMillis: Self.lease
                )
            )
            #expect(first.cursor == "b" && first.backlog == 2)
            #expect(try await store.advanceCampaign(walk, cursor: "z", users: 1, usersWithoutDevice: 1, devices: 0, jobs: [], last: true, leaseMillis: Self.lease) == nil,
                    "a step from a stale cursor or lease writes nothing")

            // The walker crashed: its lease runs out and another one resumes from the cursor.
            fixture.clock.advance(millis: Self.lease + 1)
            let resumed = try #require(try await store.leaseCampaign(leaseMillis: Self.lease))
            #expect(resumed.cursor == "b" && resumed.audienceSize == 3 && resumed.backlog == 2)
            #expect(try await store.advanceCampaign(first, cursor: "c", users: 1, usersWithoutDevice: 0, devices: 1, jobs: [], last: false, leaseMillis: Self.lease) == nil,
                    "the old walker lost its lease")
            let done = try #require(
                try await store.advanceCampaign(
                    resumed, cursor: "c", users: 1, usersWithoutDevice: 1, devices: 0, jobs: [], last: true, leaseMillis: Self.lease
                )
            )
            #expect(done.backlog == 2)
            var status = try #require(try await store.campaign(sdkAppID: Self.app, taskID: "t1"))
            #expect(status.state == .sending && status.users == 3 && status.usersWithoutDevice == 1 && status.devices == 3 && status.jobs == 2)
            #expect(try await store.leaseCampaign(leaseMillis: Self.lease) == nil, "an enqueued campaign is not walked again")

            // Chat first; then the campaign's jobs, whose outcomes are counted.
            try await store.enqueue(job("chat-1"))
            let claimed = try await store.claim(limit: 10, leaseMillis: 30_000)
            #expect(claimed.map(\.lane) == [.chat, .campaign, .campaign])
            #expect(claimed[1].idempotencyKey == "t1:a")
            let spec = try JSONSerialization.jsonObject(with: claimed[1].payload) as? [String: Any]
            // The campaign's job as stored, for user a: the recipient is the queue entry's.
            #expect(claimed[1].userID == "a" && spec?["To_Account"] == nil && spec?["Lane"] as? String == "campaign")
            try await store.complete([
                JobCompletion(job: claimed[0], records: [record("d1", .delivered)]),
                JobCompletion(
                    job: claimed[1], records: [record("d1", .delivered), PushRecord(deviceID: "d2", vendor: "apns", outcome: .skipped, reason: "Online", attempts: 0, atMillis: 0)]
                ),
                JobCompletion(
                    job: claimed[2], records: [PushRecord(deviceID: "d3", vendor: "fcm", outcome: .tokenInvalid, attempts: 1, atMillis: 0)],
                    retry: .init(deviceIDs: ["d4"], notBeforeMillis: fixture.clock.nowMillis(), lastError: "503")
                ),
            ])
            status = try #require(try await store.campaign(sdkAppID: Self.app, taskID: "t1"))
            #expect(status.state == .sending && status.jobsDone == 1)
            #expect(status.count(.delivered) == 1 && status.count(.tokenInvalid) == 1 && status.reasons(.skipped) == ["Online": 1])
            let retried = try await store.claim(limit: 10, leaseMillis: 30_000)
            try await store.complete([JobCompletion(job: retried[0], records: [PushRecord(deviceID: "d4", vendor: "fcm", outcome: .failed, reason: "BadRequest", attempts: 2, atMillis: 0)])])
            status = try #require(try await store.campaign(sdkAppID: Self.app, taskID: "t1"))
            #expect(status.state == .finished && status.jobsDone == 2 && status.finishedAtMillis == fixture.clock.nowMillis())
            #expect(status.reasons(.failed) == ["BadRequest": 1])
            #expect(try await store.cancelCampaign(sdkAppID: Self.app, taskID: "t1") == false, "a finished campaign cannot be cancelled")
        }
    }

    @Test("a step enqueued claimed: its jobs are the walker's until the claim runs out, then any worker's", arguments: Backend.available)
    func claimedStep(_ backend: Backend) async throws {
        try await withStore(backend) { fixture, store in
            #expect(try await store.createCampaign(newCampaign("t1", random: 1), quota: CampaignQuota()) == .created)
            let walk = try #require(try await store.leaseCampaign(leaseMillis: Self.lease))
            let jobs = (0..<4).map { walk.job(for: "u\($0)") }
            let step = try #require(
                try await store.advanceCampaign(
                    walk, cursor: "u3", users: 4, usersWithoutDevice: 0, devices: 4, jobs: jobs, last: true, leaseMillis: Self.lease, claimMillis: 30_000
                )
            )
            #expect(step.walk.backlog == 4 && step.walk.cursor == "u3")
            #expect(step.claimed.map(\.idempotencyKey) == ["t1:u0", "t1:u1", "t1:u2", "t1:u3"])
            #expect(step.claimed.allSatisfy { $0.lane == .campaign && $0.attempts == 0 && $0.leaseUntilMillis == fixture.clock.nowMillis() + 30_000 })
            #expect(Set(step.claimed.map(\.id)).count == 4, "each with its own row")
            #expect(try await store.claim(limit: 10, leaseMillis: 30_000).isEmpty, "nobody else claims them while the walker holds them")

            // The walker finishes two; its process dies with the other two in hand.
            try await store.complete(step.claimed.prefix(2).map { JobCompletion(job: $0) })
            fixture.clock.advance(millis: 30_000)
            let reclaimed = try await store.claim(limit: 10, leaseMillis: 30_000)
            #expect(reclaimed.map(\.idempotencyKey) == ["t1:u2", "t1:u3"], "after the claim runs out a worker sends the rest, and only the rest")
            try await store.complete([JobCompletion(job: step.claimed[3])])
            #expect(try await store.campaign(sdkAppID: Self.app, taskID: "t1")?.jobsDone == 2, "the walker's stale claim finishes nothing")
            try await store.complete(reclaimed.map { JobCompletion(job: $0) })
            let status = try #require(try await store.campaign(sdkAppID: Self.app, taskID: "t1"))
            #expect(status.state == .finished && status.jobsDone == 4)

            // A step whose jobs are already queued (a walker that lost its lease mid-step) hands none.
            #expect(try await store.createCampaign(newCampaign("t2", random: 2), quota: CampaignQuota()) == .created)
            fixture.clock.advance(millis: 1_000_000)
            let second = try #require(try await store.leaseCampaign(leaseMillis: Self.lease))
            try await store.enqueue([second.job(for: "u0")])
            let repeated = try #require(
                try await store.advanceCampaign(
                    second, cursor: "u1", users: 2, usersWithoutDevice: 0, devices: 2, jobs: [second.job(for: "u0"), second.job(for: "u1")], last: false,
                    leaseMillis: Self.lease, claimMillis: 30_000
                )
            )
            #expect(repeated.claimed.map(\.idempotencyKey) == ["t2:u1"])
        }
    }

    @Test("a claim takes every ready chat job first and at most campaignLimit campaign jobs", arguments: Backend.available)
    func campaignLimit(_ backend: Backend) async throws {
        try await withStore(backend) { _, store in
            try await store.enqueue((0..<5).map { job("t1:u\($0)", lane: .campaign) } + [job("c1"), job("c2")])
            let first = try await store.claim(limit: 10, campaignLimit: 2, leaseMillis: 30_000)
            #expect(first.map(\.lane) == [.chat, .chat, .campaign, .campaign])
            #expect(try await store.claim(limit: 10, campaignLimit: 0, leaseMillis: 30_000).isEmpty, "no campaign budget, no chat: nothing")
            #expect(try await store.claim(limit: 2, campaignLimit: 10, leaseMillis: 30_000).count == 2, "limit still bounds the claim")
        }
    }

    @Test("cancel: the walk stops and unsent pushes are dropped; chat jobs are untouched", arguments: Backend.available)
    func cancel(_ backend: Backend) async throws {
        try await withStore(backend) { _, store in
            #expect(try await store.createCampaign(newCampaign("t1", random: 1), quota: CampaignQuota()) == .created)
            let walk = try #require(try await store.leaseCampaign(leaseMillis: Self.lease))
            let jobs = (0..<5).map { walk.job(for: "u\($0)") }
            let next = try #require(
                try await store.advanceCampaign(walk, cursor: "u4", users: 5, usersWithoutDevice: 0, devices: 5, jobs: jobs, last: false, leaseMillis: Self.lease)
            )
            try await store.enqueue(job("t1:chat"))
            #expect(try await store.cancelCampaign(sdkAppID: Self.app, taskID: "t1"))
            #expect(try await store.cancelCampaign(sdkAppID: Self.app, taskID: "t1") == false)
            #expect(try await store.advanceCampaign(next, cursor: "u9", users: 5, usersWithoutDevice: 0, devices: 5, jobs: [], last: true, leaseMillis: Self.lease) == nil)
            let status = try #require(try await store.campaign(sdkAppID: Self.app, taskID: "t1"))
            #expect(status.state == .cancelled && status.jobsCancelled == 5 && status.finishedAtMillis != nil)
            #expect(try await store.claim(limit: 10, leaseMillis: 30_000).map(\.idempotencyKey) == ["t1:chat"])
            #expect(try await store.leaseCampaign(leaseMillis: Self.lease) == nil)
        }
    }
}
