import Foundation
import Messaging
import PushCore
import Storage
import Testing
import TestSupport

/// One contract, both backends: what the dispatcher relies on from any queue.
@Suite("Queue contract")
struct QueueContractTests {
    static let lease: Int64 = 30_000

    @Test("re-enqueueing a key is a no-op, pending or finished", arguments: Backend.available)
    func idempotency(_ backend: Backend) async throws {
        try await withStore(backend) { _, store in
            #expect(try await store.enqueue([job("m1"), job("m2"), job("m1")]) == [true, true, false])
            #expect(try await store.enqueue(job("m1")) == false)
            let claimed = try await store.claim(limit: 10, leaseMillis: Self.lease)
            #expect(claimed.map(\.idempotencyKey) == ["m1", "m2"])
            try await store.complete(claimed.map { JobCompletion(job: $0) })
            #expect(try await store.enqueue(job("m1")) == false)
            #expect(try await store.enqueue(job("m1", app: 1_400_000_001)) == true, "keys are per app")
        }
    }

    @Test("a claimed job is leased: nobody else gets it until the lease expires", arguments: Backend.available)
    func leases(_ backend: Backend) async throws {
        try await withStore(backend) { fixture, store in
            try await store.enqueue(job("m1"))
            let first = try await store.claim(limit: 10, leaseMillis: Self.lease)
            #expect(first.count == 1)
            #expect(first[0].leaseUntilMillis == fixture.clock.nowMillis() + Self.lease)
            #expect(try await store.claim(limit: 10, leaseMillis: Self.lease).isEmpty)
            fixture.clock.advance(millis: Self.lease - 1)
            #expect(try await store.claim(limit: 10, leaseMillis: Self.lease).isEmpty)
            // The worker crashed: its lease runs out and the job comes back, with a new claim.
            fixture.clock.advance(millis: 1)
            let second = try await store.claim(limit: 10, leaseMillis: Self.lease)
            #expect(second.map(\.id) == first.map(\.id))
            #expect(second[0].claim == first[0].claim + 1)
            #expect(second[0].payload == first[0].payload)
            // The late finish of the first claim is ignored; the current claim's counts.
            try await store.complete([JobCompletion(job: first[0], records: [record("d1", .delivered)])])
            #expect(try await store.pushRecords(sdkAppID: 1_400_000_000, idempotencyKey: "m1").isEmpty)
            try await store.complete([JobCompletion(job: second[0], records: [record("d1", .delivered)])])
            #expect(try await store.pushRecords(sdkAppID: 1_400_000_000, idempotencyKey: "m1").count == 1)
            fixture.clock.advance(millis: 10 * Self.lease)
            #expect(try await store.claim(limit: 10, leaseMillis: Self.lease).isEmpty, "a finished job never comes back")
        }
    }

    @Test("open claims count claims since the last finish; a renewed lease keeps the job; a stale claim renews nothing", arguments: Backend.available)
    func openClaimsAndRenewal(_ backend: Backend) async throws {
        try await withStore(backend) { fixture, store in
            try await store.enqueue(job("m1"))
            let first = try await store.claim(limit: 1, leaseMillis: Self.lease)
            #expect(first.map(\.openClaims) == [1])
            fixture.clock.advance(millis: Self.lease)
            let second = try await store.claim(limit: 1, leaseMillis: Self.lease)
            #expect(second.map(\.openClaims) == [2], "the first claim died without a finish")
            // Renewed twice by its heartbeat, the lease outlives its first term.
            for _ in 0..<2 {
                fixture.clock.advance(millis: Self.lease - 1)
                try await store.extendLeases(second, leaseMillis: Self.lease)
                try await store.extendLeases(first, leaseMillis: 10 * Self.lease)  // a stale claim changes nothing
                #expect(try await store.claim(limit: 1, leaseMillis: Self.lease).isEmpty)
            }
            fixture.clock.advance(millis: Self.lease)
            let third = try await store.claim(limit: 1, leaseMillis: Self.lease)
            #expect(third.map(\.openClaims) == [3], "renewals stop when the worker dies")
            try await store.complete([JobCompletion(job: third[0], retry: .init(deviceIDs: ["d1"], notBeforeMillis: fixture.clock.nowMillis(), lastError: "x"))])
            #expect(try await store.claim(limit: 1, leaseMillis: Self.lease).map(\.openClaims) == [1], "a finished round starts over")
        }
    }

    @Test("a retry waits for not_before, counts an attempt and keeps only the failed devices", arguments: Backend.available)
    func retries(_ backend: Backend) async throws {
        try await withStore(backend) { fixture, store in
            try await store.enqueue(job("m1"))
            let claimed = try await store.claim(limit: 1, leaseMillis: Self.lease)[0]
            #expect(claimed.attempts == 0 && claimed.deviceIDs == nil)
            let at = fixture.clock.nowMillis() + 5_000
            try await store.complete([
                JobCompletion(
                    job: claimed, records: [record("d1", .delivered)],
                    retry: .init(deviceIDs: ["d2"], notBeforeMillis: at, lastError: "HTTP 503")
                )
            ])
            let status = try #require(try await store.jobStatus(sdkAppID: 1_400_000_000, idempotencyKey: "m1"))
            #expect(status.attempts == 1 && status.claims == 1 && status.availableAtMillis == at && status.finishedAtMillis == nil)
            #expect(status.lastError == "HTTP 503" && status.deviceIDs == ["d2"])
            #expect(try await store.jobStatus(sdkAppID: 1_400_000_000, idempotencyKey: "nope") == nil)
            fixture.clock.advance(millis: 4_999)
            #expect(try await store.claim(limit: 1, leaseMillis: Self.lease).isEmpty)
            fixture.clock.advance(millis: 1)
            let again = try #require(try await store.claim(limit: 1, leaseMillis: Self.lease).first)
            #expect(again.attempts == 1)
            #expect(again.deviceIDs == ["d2"])
            // A hand-back at shutdown does not count as an attempt and is claimable at once.
            try await store.complete([.handBack(again, nowMillis: fixture.clock.nowMillis())])
            let handedBack = try #require(try await store.claim(limit: 1, leaseMillis: Self.lease).first)
            #expect(handedBack.attempts == 1 && handedBack.deviceIDs == ["d2"])
        }
    }

    @Test("every ready chat job is claimed before any campaign job", arguments: Backend.available)
    func lanes(_ backend: Backend) async throws {
        try await withStore(backend) { fixture, store in
            try await store.enqueue((0..<50).map { job("c\($0)", lane: .campaign) })
            fixture.clock.advance(millis: 1_000)
            try await store.enqueue((0..<3).map { job("m\($0)") })
            let first = try await store.claim(limit: 5, leaseMillis: Self.lease)
            #expect(first.map(\.lane) == [.chat, .chat, .chat, .campaign, .campaign])
            #expect(first.suffix(2).map(\.idempotencyKey) == ["c0", "c1"], "oldest first within a lane")
            let stats = try await store.stats()
            #expect(stats.lanes[.campaign]?.pending == 50)
            #expect(stats.lanes[.campaign]?.ready == 48)
            #expect(stats.lanes[.campaign]?.oldestReadyAgeMillis == 1_000)
            #expect(stats.lanes[.chat]?.pending == 3 && stats.lanes[.chat]?.ready == 0)
        }
    }

    /// Issue 28 section 3: queue depth per app.
    @Test("queue stats per app and lane: pending, ready and the oldest ready job's age; the lanes' totals sum them", arguments: Backend.available)
    func statsPerApp(_ backend: Backend) async throws {
        try await withStore(backend) { fixture, store in
            let other: UInt64 = 1_400_000_001
            try await store.enqueue((0..<4).map { job("a\($0)") } + [job("c0", lane: .campaign)])
            fixture.clock.advance(millis: 2_000)
            try await store.enqueue((0..<2).map { job("b\($0)", app: other) })
            _ = try await store.claim(limit: 1, campaignLimit: 0, leaseMillis: Self.lease)
            let stats = try await store.stats()
            let mine = try #require(stats.apps[1_400_000_000]), theirs = try #require(stats.apps[other])
            #expect(mine[.chat] == .init(pending: 4, ready: 3, oldestReadyAgeMillis: 2_000), "one of four leased")
            #expect(mine[.campaign] == .init(pending: 1, ready: 1, oldestReadyAgeMillis: 2_000))
            #expect(theirs[.chat] == .init(pending: 2, ready: 2, oldestReadyAgeMillis: 0) && theirs[.campaign] == nil)
            #expect(stats.lanes[.chat] == .init(pending: 6, ready: 5, oldestReadyAgeMillis: 2_000))
            #expect(stats.lanes[.campaign] == .init(pending: 1, ready: 1, oldestReadyAgeMillis: 2_000))
        }
    }

    @Test("dead letters past their retention are purged, younger ones kept", arguments: Backend.available)
    func deadLetterRetention(_ backend: Backend) async throws {
        try await withStore(backend) { fixture, store in
            for key in ["old", "young"] {
                try await store.enqueue(job(key))
                let claimed = try await store.claim(limit: 1, leaseMillis: Self.lease)[0]
                try await store.complete([JobCompletion(job: claimed, deadDevices: [.init(deviceID: "d1", vendor: "apns", token: "t", error: "x")])])
                fixture.clock.advance(millis: 3_600_000)
            }
            // "old" died two hours ago, "young" one hour ago.
            #expect(try await store.purgeDeadLetters(olderThanMillis: 7_200_000 - 1) == 1)
            #expect(try await store.deadLetters(afterID: 0, limit: 10).map(\.idempotencyKey) == ["young"])
        }
    }

    @Test("dead letters keep the full context and can be replayed or purged", arguments: Backend.available)
    func deadLetters(_ backend: Backend) async throws {
        try await withStore(backend) { _, store in
            try await store.enqueue(job("m1"))
            let claimed = try await store.claim(limit: 1, leaseMillis: Self.lease)[0]
            try await store.complete([
                JobCompletion(
                    job: claimed, records: [record("d1", .failed)],
                    deadDevices: [.init(deviceID: "d1", vendor: "apns", token: "tok-1", error: "BadTopic")]
                )
            ])
            var letters = try await store.deadLetters(afterID: 0, limit: 10)
            #expect(letters.count == 1)
            let letter = try #require(letters.first)
            #expect(letter.jobID == claimed.id && letter.userID == "bob" && letter.deviceID == "d1")
            #expect(letter.vendor == "apns" && letter.token == "tok-1" && letter.lastError == "BadTopic")
            #expect(letter.attempts == 1 && letter.payload == claimed.payload && letter.lane == .chat)
            #expect(try await store.stats().deadLetters == 1)

            #expect(try await store.replayDeadLetters(ids: [letter.id]) == 1)
            #expect(try await store.deadLetters(afterID: 0, limit: 10).isEmpty)
            let replayed = try #require(try await store.claim(limit: 1, leaseMillis: Self.lease).first)
            #expect(replayed.deviceIDs == ["d1"] && replayed.payload == claimed.payload && replayed.attempts == 0)

            try await store.complete([
                JobCompletion(job: replayed, deadDevices: [.init(deviceID: "d1", vendor: "apns", token: "tok-1", error: "again")])
            ])
            letters = try await store.deadLetters(afterID: 0, limit: 10)
            #expect(letters.count == 1)
            #expect(try await store.purgeDeadLetters(ids: nil) == 1)
            #expect(try await store.stats().deadLetters == 0)
        }
    }

    @Test("a token invalidation does not hit a device that re-registered after it", arguments: Backend.available)
    func invalidation(_ backend: Backend) async throws {
        try await withStore(backend) { fixture, store in
            let t0 = fixture.clock.nowMillis()
            try await store.upsertDevice(device("old", at: t0))
            try await store.upsertDevice(device("new", at: t0 + 10_000))
            try await store.enqueue(job("m1"))
            let claimed = try await store.claim(limit: 1, leaseMillis: Self.lease)[0]
            try await store.complete([
                JobCompletion(
                    job: claimed,
                    invalidations: [
                        .init(deviceID: "old", token: "token-old", atMillis: t0 + 5_000),
                        .init(deviceID: "new", token: "token-new", atMillis: t0 + 5_000),
                    ]
                )
            ])
            let devices = try await store.devices(sdkAppID: 1_400_000_000, userIDs: ["bob"])
            #expect(devices.first { $0.deviceID == "old" }?.invalidatedAtMillis == t0 + 5_000)
            #expect(devices.first { $0.deviceID == "new" }?.invalidatedAtMillis == nil)
            // Re-registering clears the invalidation.
            try await store.upsertDevice(device("old", token: "token-2", at: t0 + 20_000))
            #expect(try await store.devices(sdkAppID: 1_400_000_000, userIDs: ["bob"]).allSatisfy { $0.invalidatedAtMillis == nil })
        }
    }

    @Test("devices are registered in bulk and replaced by device id", arguments: Backend.available)
    func bulkDevices(_ backend: Backend) async throws {
        try await withStore(backend) { fixture, store in
            let t0 = fixture.clock.nowMillis()
            try await store.upsertDevices((0..<1_200).map { device("d\($0)", user: "u\($0 % 300)", vendor: .fcm, at: t0) })
            #expect(try await store.devices(sdkAppID: 1_400_000_000, userIDs: ["u7"]).map(\.deviceID) == ["d307", "d607", "d7", "d907"])
            var replaced = device("d7", user: "u7", vendor: .huawei, token: "new", at: t0 + 1)
            replaced.sandbox = true
            replaced.invalidatedAtMillis = t0 + 2
            try await store.upsertDevices([replaced])
            let d7 = try #require(try await store.devices(sdkAppID: 1_400_000_000, userIDs: ["u7"]).first { $0.deviceID == "d7" })
            #expect(d7 == replaced)
            #expect(try await store.deleteDevice(sdkAppID: 1_400_000_000, userID: "u7", deviceID: "d7"))
            #expect(try await store.deleteDevice(sdkAppID: 1_400_000_000, userID: "u7", deviceID: "d7") == false)
            #expect(try await store.devices(sdkAppID: 1_400_000_000, userIDs: ["u7"]).count == 3)
        }
    }

    @Test("accounts: import is idempotent, profiles are kept per tag, delete takes profiles and devices", arguments: Backend.available)
    func accounts(_ backend: Backend) async throws {
        try await withStore(backend) { fixture, store in
            let app: UInt64 = 1_400_000_000
            try await store.importAccounts(sdkAppID: app, [("alice", ["Tag_Profile_IM_Nick": #""Alice""#]), ("bob", [:])])
            try await store.importAccounts(sdkAppID: app, [("alice", ["Tag_Profile_IM_Gender": #""Gender_Type_Female""#])])
            #expect(try await store.importedAccounts(sdkAppID: app, userIDs: ["alice", "bob", "carol"]) == ["alice", "bob"].exactSet)
            #expect(try await store.importedAccounts(sdkAppID: 1_400_000_001, userIDs: ["alice"]).isEmpty, "per app")
            let profiles = try await store.profiles(sdkAppID: app, userIDs: ["alice", "bob", "carol"])
            #expect(profiles["alice"] == ["Tag_Profile_IM_Nick": #""Alice""#, "Tag_Profile_IM_Gender": #""Gender_Type_Female""#])
            #expect(profiles["bob"] == [:] && profiles["carol"] == nil)
            try await store.upsertDevice(device("d1", user: "alice", at: fixture.clock.nowMillis()))
            #expect(try await store.deleteAccounts(sdkAppID: app, userIDs: ["alice", "carol"]) == ["alice"])
            #expect(try await store.profiles(sdkAppID: app, userIDs: ["alice"]).isEmpty)
            #expect(try await store.devices(sdkAppID: app, userIDs: ["alice"]).isEmpty)
        }
    }

    @Test("a message is stored with its jobs in one transaction; a duplicate in the window writes nothing", arguments: Backend.available)
    func messages(_ backend: Backend) async throws {
        try await withStore(backend) { (fixture: StoreFixture, store: any PushStore) async throws in
            func message(_ key: String, dedupe: String = "alice|1|7|99") -> NewMessage {
                NewMessage(
                    sdkAppID: 1_400_000_000, msgKey: key, fromAccount: "alice", toAccount: "bob", msgSeq: 1, msgRandom: 7, msgTime: 1_795_000_000,
                    body: Data("{}".utf8), dedupeKey: dedupe, dedupeWindowMillis: 120_000, expiresAtMillis: fixture.clock.nowMillis() + 604_800_000
                )
            }
            #expect(try await store.storeMessage(message("k1"), jobs: [job("k1:bob")]) == .stored(msgSeq: 1))
            #expect(try await store.storeMessage(message("k2"), jobs: [job("k2:bob")]) == .duplicate(msgKey: "k1", msgTime: 1_795_000_000, msgSeq: 1))
            #expect(try await store.stats().lanes[.chat]?.pending == 1, "the duplicate enqueued nothing")
            #expect(try await store.messageRecipients(sdkAppID: 1_400_000_000, msgKey: "k1") == ["bob"])
            #expect(try await store.messageRecipients(sdkAppID: 1_400_000_000, msgKey: "k2").isEmpty)
            fixture.clock.advance(millis: 120_001)
            #expect(try await store.storeMessage(message("k3"), jobs: [job("k3:bob")]) == .stored(msgSeq: 1), "after the window it is a new message")
            #expect(try await store.storeMessage(message("k4", dedupe: "other"), jobs: []) == .stored(msgSeq: 1))
            #expect(try await store.stats().lanes[.chat]?.pending == 2)
        }
    }

    @Test("a batch of C2C copies in one transaction: earlier copies and repeats within the batch are duplicates", arguments: Backend.available)
    func messageBatch(_ backend: Backend) async throws {
        try await withStore(backend) { (fixture: StoreFixture, store: any PushStore) async throws in
            func message(_ key: String, to: String) -> NewMessage {
                NewMessage(
                    sdkAppID: 1_400_000_000, msgKey: key, fromAccount: "alice", toAccount: to, msgSeq: 5, msgRandom: 7, msgTime: 1_795_000_000,
                    body: Data("{}".utf8), dedupeKey: "alice|\(to)|5|7", dedupeWindowMillis: 120_000, expiresAtMillis: fixture.clock.nowMillis() + 1_000
                )
            }
            #expect(try await store.storeMessage(message("k0", to: "bob"), jobs: [job("k0:bob")]) == .stored(msgSeq: 5))
            let results = try await store.storeMessages([
                (message("k1", to: "bob"), [job("k1:bob")]), (message("k1", to: "carol"), [job("k1:carol", user: "carol")]),
                (message("k2", to: "carol"), [job("k2:carol", user: "carol")]), (message("k1", to: "dave"), [job("k1:dave", user: "dave")]),
            ])
            #expect(
                results == [
                    .duplicate(msgKey: "k0", msgTime: 1_795_000_000, msgSeq: 5), .stored(msgSeq: 5),
                    .duplicate(msgKey: "k1", msgTime: 1_795_000_000, msgSeq: 5), .stored(msgSeq: 5),
                ]
            )
            #expect(try await store.stats().lanes[.chat]?.pending == 3, "k0:bob, k1:carol, k1:dave")
            #expect(Set(try await store.messageRecipients(sdkAppID: 1_400_000_000, msgKey: "k1")) == ["carol", "dave"])
        }
    }

    /// Issue 26: sendmsg reads the accounts and writes the message in one call; each build sees
    /// its own lookup's facts, a refusal stores nothing, and repeats are duplicates as in
    /// `storeMessages`.
    @Test("sends looked up as they are stored: each build sees its facts, a refused one stores nothing, a repeat is a duplicate", arguments: Backend.available)
    func lookedUpSends(_ backend: Backend) async throws {
        try await withStore(backend) { (fixture: StoreFixture, store: any PushStore) async throws in
            let app: UInt64 = 1_400_000_000
            try await store.importAccounts(sdkAppID: app, [("alice", ["Tag_Profile_IM_Nick": #""Alice""#]), ("bob", [:])])
            try await store.setReceiveOption(sdkAppID: app, userID: "bob", conversation: "c2c:alice", muted: true)
            let clock = fixture.clock
            func send(_ key: String, to: String) -> LookedUpSend {
                LookedUpSend(lookup: SendLookup(sdkAppID: app, accounts: ["alice", to], recipients: [to], conversation: "c2c:alice")) { facts in
                    // Refused unless the recipient is imported, as sendmsg refuses.
                    guard facts.profiles[ExactString(to)] != nil else { return nil }
                    let message = NewMessage(
                        sdkAppID: app, msgKey: key, fromAccount: "alice", toAccount: to, msgSeq: 5, msgRandom: 7, msgTime: 1_795_000_000,
                        body: Data("{}".utf8), dedupeKey: "alice|\(to)|5|7", dedupeWindowMillis: 120_000, expiresAtMillis: clock.nowMillis() + 1_000
                    )
                    return (message, [NewJob(sdkAppID: app, idempotencyKey: "\(key):\(to)", userID: to, payload: Data("{}".utf8))])
                }
            }
            let results = try await store.storeMessages(lookingUp: [send("k1", to: "bob"), send("k2", to: "zed"), send("k3", to: "bob")])
            #expect(results.map(\.stored) == [.stored(msgSeq: 5), nil, .duplicate(msgKey: "k1", msgTime: 1_795_000_000, msgSeq: 5)])
            #expect(results[0].facts.profiles == ["alice": ["Tag_Profile_IM_Nick": #""Alice""#], "bob": [:]])
            #expect(results[0].facts.settings == ["bob": ReceiveSettings(muted: true)])
            #expect(results[1].facts.profiles == ["alice": ["Tag_Profile_IM_Nick": #""Alice""#]], "zed is not imported")
            #expect(try await store.stats().lanes[.chat]?.pending == 1, "only k1:bob is queued")
            #expect(try await store.jobStatus(sdkAppID: app, idempotencyKey: "k2:zed") == nil)
        }
    }

    @Test("groups: members, MsgFlag, rename, destroy; group messages take MsgSeq 1, 2, … in one transaction", arguments: Backend.available)
    func groups(_ backend: Backend) async throws {
        try await withStore(backend) { (fixture: StoreFixture, store: any PushStore) async throws in
            let app: UInt64 = 1_400_000_000
            let group = Group(sdkAppID: app, groupID: "g1", type: .public, name: "Team", owner: "alice")
            #expect(try await store.createGroup(group, members: [GroupMember(userID: "alice", role: "Owner"), GroupMember(userID: "bob")]))
            #expect(try await store.createGroup(group, members: []) == false, "the id is taken")
            #expect(try await store.addGroupMembers(sdkAppID: app, groupID: "g1", [GroupMember(userID: "bob"), GroupMember(userID: "carol")]) == ["carol"])
            var carol = GroupMember(userID: "carol", role: "Admin", msgFlag: .acceptNotNotify, nameCard: "C")
            #expect(try await store.updateGroupMember(sdkAppID: app, groupID: "g1", carol))
            carol.userID = "dave"
            #expect(try await store.updateGroupMember(sdkAppID: app, groupID: "g1", carol) == false, "not a member")
            #expect(try await store.renameGroup(sdkAppID: app, groupID: "g1", name: "Crew"))
            let (read, members) = try #require(try await store.group(sdkAppID: app, groupID: "g1"))
            #expect(read.name == "Crew" && read.type == .public && read.owner == "alice")
            #expect(Set(members.map(\.userID)) == ["alice", "bob", "carol"])
            #expect(members.first { $0.userID == "carol" } == GroupMember(userID: "carol", role: "Admin", msgFlag: .acceptNotNotify, nameCard: "C"))

            func message(_ key: String, random: Int64, group: String = "g1") -> NewMessage {
                NewMessage(
                    sdkAppID: app, msgKey: key, fromAccount: "alice", toAccount: "", groupID: group, msgSeq: 0, msgRandom: random,
                    msgTime: 1_795_000_000, body: Data("{}".utf8), dedupeKey: "group|\(group)|\(random)", dedupeWindowMillis: 300_000,
                    expiresAtMillis: fixture.clock.nowMillis() + 604_800_000
                )
            }
            #expect(try await store.storeMessage(message("m1", random: 1), jobs: [job("m1:bob"), job("m1:carol")]) == .stored(msgSeq: 1))
            #expect(try await store.storeMessage(message("m2", random: 2), jobs: [job("m2:bob")]) == .stored(msgSeq: 2))
            #expect(try await store.storeMessage(message("m3", random: 1), jobs: [job("m3:bob")]) == .duplicate(msgKey: "m1", msgTime: 1_795_000_000, msgSeq: 1))
            #expect(try await store.storeMessage(message("m4", random: 4, group: "nope"), jobs: [job("m4:bob")]) == .groupNotFound)
            #expect(try await store.stats().lanes[.chat]?.pending == 3, "neither the duplicate nor the message to no group enqueued")
            #expect(Set(try await store.messageRecipients(sdkAppID: app, msgKey: "m1")) == ["alice", "bob", "carol"])

            #expect(try await store.deleteGroupMembers(sdkAppID: app, groupID: "g1", userIDs: ["bob", "zed"]) == ["bob"])
            #expect(try await store.destroyGroup(sdkAppID: app, groupID: "g1"))
            #expect(try await store.destroyGroup(sdkAppID: app, groupID: "g1") == false)
            #expect(try await store.group(sdkAppID: app, groupID: "g1") == nil)
            #expect(try await store.createGroup(group, members: []), "a destroyed group's id can be used again")
            #expect(try await store.group(sdkAppID: app, groupID: "g1")?.members.isEmpty == true, "its members went with it")
        }
    }

    @Test("groups: a member's groups, the app's groups by pages in byte order, a change of owner, a mute", arguments: Backend.available)
    func groupLists(_ backend: Backend) async throws {
        try await withStore(backend) { (fixture: StoreFixture, store: any PushStore) async throws in
            let app: UInt64 = 1_400_000_000
            for id in ["g2", "G1", "g1", "é"] {
                let group = Group(sdkAppID: app, groupID: id, type: .work, name: id, owner: "alice")
                let members = [GroupMember(userID: "alice", role: "Owner")] + (id == "g2" ? [] : [GroupMember(userID: "bob")])
                #expect(try await store.createGroup(group, members: members))
            }
            #expect(try await store.joinedGroups(sdkAppID: app, userID: "bob") == ["G1", "g1", "é"])
            #expect(try await store.joinedGroups(sdkAppID: app, userID: "nobody") == [])
            #expect(try await store.groupPage(sdkAppID: app, offset: 0, limit: 3) == (["G1", "g1", "g2"], 4))
            #expect(try await store.groupPage(sdkAppID: app, offset: 3, limit: 3) == (["é"], 4))
            #expect(try await store.changeGroupOwner(sdkAppID: app, groupID: "g1", to: "bob"))
            let (group, members) = try #require(try await store.group(sdkAppID: app, groupID: "g1"))
            #expect(group.owner == "bob" && members.map { "\($0.userID)=\($0.role)" } == ["alice=Member", "bob=Owner"])
            #expect(try await store.changeGroupOwner(sdkAppID: app, groupID: "g2", to: "bob") == false, "not a member")
            #expect(try await store.changeGroupOwner(sdkAppID: app, groupID: "none", to: "bob") == false)
            #expect(try await store.muteGroupMembers(sdkAppID: app, groupID: "g1", userIDs: ["bob", "carol"], untilMillis: 5_000) == ["bob"])
            let muted = try #require(try await store.group(sdkAppID: app, groupID: "g1")).members
            #expect(muted.map(\.mutedUntilMillis) == [0, 5_000] && muted[1].isMuted(nowMillis: 4_999) && !muted[1].isMuted(nowMillis: 5_000))
        }
    }

    /// Issue 25: a batch recipient's job is written by the fan-out later; a withdrawal before that
    /// takes the key, so the fan-out enqueues nothing for them.
    @Test("withdrawing one recipient's copy of a batch message: gone from their roaming, their job key taken, the others untouched", arguments: Backend.available)
    func withdrawBatchCopy(_ backend: Backend) async throws {
        try await withStore(backend) { (fixture: StoreFixture, store: any PushStore) async throws in
            let app: UInt64 = 1_400_000_000
            let message = NewMessage(
                sdkAppID: app, msgKey: "k1", fromAccount: "alice", toAccount: "", recipients: ["bob", "carol"], msgSeq: 1, msgRandom: 1,
                msgTime: 100, body: Data("{}".utf8), dedupeKey: "d1", dedupeWindowMillis: 1_000, expiresAtMillis: fixture.clock.nowMillis() + 60_000
            )
            _ = try await store.storeMessage(message, jobs: [job("k1#fanout-0", user: "")])
            #expect(try await store.withdraw(Withdrawal(sdkAppID: app, .c2c(msgKey: "k1", from: "alice", to: "bob")))
                == .withdrawn(msgKey: "k1", cancelled: ["bob"], sent: []))
            #expect(try await store.enqueue([job("k1:bob", user: "bob"), job("k1:carol", user: "carol")]) == [false, true])
            #expect(try await store.messageRecipients(sdkAppID: app, msgKey: "k1") == ["carol"])
            #expect(try await store.withdraw(Withdrawal(sdkAppID: app, .c2c(msgKey: "k1", from: "alice", to: "bob"))) == .alreadyWithdrawn)
            #expect(try await store.withdraw(Withdrawal(sdkAppID: app, .c2c(msgKey: "k2", from: "alice", to: "bob"))) == .notFound)
            #expect(try await store.pushRecords(sdkAppID: app, idempotencyKey: "k1:bob").map(\.reason) == ["Withdrawn"])
        }
    }

    /// Issue 25: a withdrawn message's push that was already delivered stayed on the device. The
    /// withdrawal now enqueues, in its transaction, one revocation job per recipient, limited to
    /// the devices the push reached, with the payload it was given.
    @Test("withdrawing a delivered message enqueues its revocation for the devices that got it, the cancelled recipients none", arguments: Backend.available)
    func withdrawRevokesDelivered(_ backend: Backend) async throws {
        try await withStore(backend) { (fixture: StoreFixture, store: any PushStore) async throws in
            let app: UInt64 = 1_400_000_000
            _ = try await store.createGroup(
                Group(sdkAppID: app, groupID: "g", type: .work, name: "G", owner: "alice"), members: ["alice", "bob", "carol"].map { GroupMember(userID: $0) }
            )
            let message = NewMessage(
                sdkAppID: app, msgKey: "k1", fromAccount: "alice", toAccount: "", groupID: "g", msgSeq: 0, msgRandom: 1,
                msgTime: 100, body: Data("{}".utf8), dedupeKey: "d1", dedupeWindowMillis: 1_000, expiresAtMillis: fixture.clock.nowMillis() + 60_000
            )
            let stored = try await store.storeMessage(message, jobs: [job("k1:bob", user: "bob"), job("k1:carol", user: "carol")])
            guard case .stored(let seq) = stored else { Issue.record("not stored: \(stored)"); return }
            let claimed = try await store.claim(limit: 10, leaseMillis: Self.lease).sorted { $0.userID < $1.userID }
            // bob's phone got it and his tablet was skipped; carol's push waits for a retry.
            try await store.complete([
                JobCompletion(job: claimed[0], records: [record("phone", .delivered), record("tablet", .skipped)]),
                JobCompletion(job: claimed[1], retry: .init(deviceIDs: ["d9"], notBeforeMillis: fixture.clock.nowMillis() + 60_000, lastError: "429")),
            ])
            let payload = Data(#"{"Revoke":true}"#.utf8)
            let result = try await store.withdraw(Withdrawal(sdkAppID: app, .group(groupID: "g", msgSeq: seq), revocationJob: payload))
            #expect(result == .withdrawn(msgKey: "k1", cancelled: ["alice", "carol"], sent: ["bob"]))
            let revocations = try await store.claim(limit: 10, leaseMillis: Self.lease)
            #expect(revocations.map(\.idempotencyKey) == ["k1:bob/revoke"] && revocations.map(\.userID) == ["bob"])
            #expect(revocations.map(\.deviceIDs) == [["phone"]] && revocations.map(\.payload) == [payload])
            #expect(Withdrawal.revokedKey("k1:bob/revoke") == "k1:bob" && Withdrawal.revokedKey("k1:bob") == nil)
        }
    }

    @Test("receive options per conversation and the do-not-disturb window", arguments: Backend.available)
    func receiveOptions(_ backend: Backend) async throws {
        try await withStore(backend) { _, store in
            let app: UInt64 = 1_400_000_000
            try await store.setReceiveOption(sdkAppID: app, userID: "bob", conversation: "c2c:alice", muted: true)
            try await store.setReceiveOption(sdkAppID: app, userID: "carol", conversation: "c2c:alice", muted: true)
            try await store.setReceiveOption(sdkAppID: app, userID: "carol", conversation: "c2c:alice", muted: false)
            try await store.setDoNotDisturb(sdkAppID: app, userID: "carol", DoNotDisturb(start: 3_600, duration: 7_200))
            try await store.setDoNotDisturb(sdkAppID: app, userID: "dave", DoNotDisturb(start: 3_600, duration: 7_200))
            try await store.setDoNotDisturb(sdkAppID: app, userID: "dave", nil)
            let settings = try await store.receiveSettings(sdkAppID: app, userIDs: ["bob", "carol", "dave", "erin"], conversation: "c2c:alice")
            #expect(settings["bob"] == ReceiveSettings(muted: true))
            #expect(settings["carol"] == ReceiveSettings(muted: false, doNotDisturb: DoNotDisturb(start: 3_600, duration: 7_200)))
            #expect(settings["dave"] == ReceiveSettings() && settings["erin"] == nil)
            let other = try await store.receiveSettings(sdkAppID: app, userIDs: ["bob"], conversation: "group:g1")
            #expect(other["bob"] == nil, "the option is per conversation")
        }
    }

    @Test("send facts: several lookups in one call answer as profiles and receiveSettings do", arguments: Backend.available)
    func sendFacts(_ backend: Backend) async throws {
        try await withStore(backend) { _, store in
            let app: UInt64 = 1_400_000_000
            try await store.importAccounts(sdkAppID: app, [("alice", ["Tag_Profile_IM_Nick": #""Alice""#]), ("bob", [:]), ("carol", [:])])
            try await store.importAccounts(sdkAppID: 1_400_000_001, [("alice", [:])])
            try await store.setReceiveOption(sdkAppID: app, userID: "bob", conversation: "c2c:alice", muted: true)
            try await store.setDoNotDisturb(sdkAppID: app, userID: "carol", DoNotDisturb(start: 60, duration: 120))
            let lookups = [
                SendLookup(sdkAppID: app, accounts: ["alice", "bob", "zed"], recipients: ["bob", "zed"], conversation: "c2c:alice"),
                SendLookup(sdkAppID: app, accounts: ["carol"], recipients: ["bob", "carol"], conversation: "group:g1"),
                SendLookup(sdkAppID: 1_400_000_001, accounts: ["alice", "bob"], recipients: ["bob"], conversation: "c2c:alice"),
                SendLookup(sdkAppID: app, accounts: [], recipients: [], conversation: ""),
            ]
            let facts = try await store.sendFacts(lookups)
            #expect(facts.count == lookups.count)
            for (lookup, fact) in zip(lookups, facts) {
                #expect(fact.profiles == (try await store.profiles(sdkAppID: lookup.sdkAppID, userIDs: lookup.accounts)))
                #expect(
                    fact.settings == (try await store.receiveSettings(sdkAppID: lookup.sdkAppID, userIDs: lookup.recipients, conversation: lookup.conversation))
                )
            }
            #expect(facts[0].profiles == ["alice": ["Tag_Profile_IM_Nick": #""Alice""#], "bob": [:]])
            #expect(facts[0].settings == ["bob": ReceiveSettings(muted: true)])
            #expect(facts[1].settings == ["carol": ReceiveSettings(doNotDisturb: DoNotDisturb(start: 60, duration: 120))], "bob muted only alice")
            #expect(facts[2].profiles == ["alice": [:]] && facts[2].settings.isEmpty, "per app")
            #expect(facts[3].profiles.isEmpty && facts[3].settings.isEmpty)
        }
    }

    @Test("a conversation pages newest first, both directions, within the time range", arguments: Backend.available)
    func conversation(_ backend: Backend) async throws {
        try await withStore(backend) { (fixture: StoreFixture, store: any PushStore) async throws in
            for i in 0..<5 {
                let (from, to) = i % 2 == 0 ? ("alice", "bob") : ("bob", "alice")
                let m = NewMessage(
                    sdkAppID: 1_400_000_000, msgKey: "k\(i)", fromAccount: from, toAccount: to, msgSeq: Int64(i), msgRandom: 1,
                    msgTime: 1_000 + Int64(i / 2), body: Data("{}".utf8), dedupeKey: "d\(i)", dedupeWindowMillis: 0, expiresAtMillis: 0
                )
                #expect(try await store.storeMessage(m, jobs: []) == .stored(msgSeq: Int64(i)))
            }
            let other = NewMessage(
                sdkAppID: 1_400_000_000, msgKey: "x", fromAccount: "alice", toAccount: "carol", msgSeq: 9, msgRandom: 1, msgTime: 1_001,
                body: Data("{}".utf8), dedupeKey: "dx", dedupeWindowMillis: 0, expiresAtMillis: 0
            )
            #expect(try await store.storeMessage(other, jobs: []) == .stored(msgSeq: 9))
            let first = try await store.conversation(sdkAppID: 1_400_000_000, between: "bob", and: "alice", minTime: 0, maxTime: 9_999, before: nil, limit: 3)
            #expect(first.map(\.msgKey) == ["k4", "k3", "k2"])
            let next = try await store.conversation(sdkAppID: 1_400_000_000, between: "bob", and: "alice", minTime: 0, maxTime: 9_999, before: "k2", limit: 3)
            #expect(next.map(\.msgKey) == ["k1", "k0"])
            let ranged = try await store.conversation(sdkAppID: 1_400_000_000, between: "alice", and: "bob", minTime: 1_001, maxTime: 1_001, before: nil, limit: 10)
            #expect(ranged.map(\.msgKey) == ["k3", "k2"])
        }
    }

    @Test("a batch message is stored once: every recipient finds it in roaming, duplicates write nothing, the purge drops its list", arguments: Backend.available)
    func batchMessage(_ backend: Backend) async throws {
        try await withStore(backend) { (fixture: StoreFixture, store: any PushStore) async throws in
            func batch(_ key: String, to: [String], time: Int64, dedupe: String) -> NewMessage {
                NewMessage(
                    sdkAppID: 1_400_000_000, msgKey: key, fromAccount: "ops", toAccount: "", recipients: to, msgSeq: 3, msgRandom: 7, msgTime: time,
                    body: Data(#"{"MsgBody":[]}"#.utf8), dedupeKey: dedupe, dedupeWindowMillis: 120_000, expiresAtMillis: fixture.clock.nowMillis() + 1_000
                )
            }
            let direct = NewMessage(
                sdkAppID: 1_400_000_000, msgKey: "d1", fromAccount: "bob", toAccount: "ops", msgSeq: 1, msgRandom: 1, msgTime: 1_001,
                body: Data("{}".utf8), dedupeKey: "d1", dedupeWindowMillis: 0, expiresAtMillis: 0
            )
            #expect(try await store.storeMessage(batch("b1", to: ["bob", "carol"], time: 1_000, dedupe: "b"), jobs: [job("b1#fanout", user: "")]) == .stored(msgSeq: 3))
            #expect(try await store.storeMessage(direct, jobs: []) == .stored(msgSeq: 1))
            #expect(try await store.storeMessage(batch("b2", to: ["bob"], time: 1_002, dedupe: "c"), jobs: []) == .stored(msgSeq: 3))
            // A group message has no `to_account` either; it is not part of the C2C conversation.
            #expect(try await store.createGroup(Group(sdkAppID: 1_400_000_000, groupID: "g1", type: .public, name: "Ops", owner: "ops"), members: [GroupMember(userID: "bob")]))
            let inGroup = NewMessage(
                sdkAppID: 1_400_000_000, msgKey: "g1-1", fromAccount: "ops", toAccount: "", groupID: "g1", msgSeq: 0, msgRandom: 2, msgTime: 1_002,
                body: Data("{}".utf8), dedupeKey: "g", dedupeWindowMillis: 0, expiresAtMillis: 0
            )
            #expect(try await store.storeMessage(inGroup, jobs: []) == .stored(msgSeq: 1))
            #expect(try await store.storeMessage(batch("b3", to: ["bob", "carol"], time: 1_003, dedupe: "b"), jobs: [job("b3#fanout", user: "")]) == .duplicate(msgKey: "b1", msgTime: 1_000, msgSeq: 3))
            #expect(try await store.stats().lanes[.chat]?.pending == 1, "one job for the batch, none for its duplicate")
            #expect(Set(try await store.messageRecipients(sdkAppID: 1_400_000_000, msgKey: "b1")) == ["bob", "carol"])
            #expect(try await store.messageRecipients(sdkAppID: 1_400_000_000, msgKey: "b3").isEmpty)
            let bob = try await store.conversation(sdkAppID: 1_400_000_000, between: "bob", and: "ops", minTime: 0, maxTime: 9_999, before: nil, limit: 2)
            #expect(bob.map(\.msgKey) == ["b2", "d1"], "newest first, batch and direct messages mixed")
            #expect(bob.first?.toAccount == "bob" && bob.first?.fromAccount == "ops")
            let older = try await store.conversation(sdkAppID: 1_400_000_000, between: "ops", and: "bob", minTime: 0, maxTime: 9_999, before: "d1", limit: 5)
            #expect(older.map(\.msgKey) == ["b1"])
            let carol = try await store.conversation(sdkAppID: 1_400_000_000, between: "carol", and: "ops", minTime: 0, maxTime: 9_999, before: nil, limit: 5)
            #expect(carol.map(\.msgKey) == ["b1"] && carol.first?.toAccount == "carol")
            fixture.clock.advance(millis: 8 * 24 * 3_600_000)
            try await store.purgeFinished(olderThanMillis: 1_000)
            #expect(try await store.messageRecipients(sdkAppID: 1_400_000_000, msgKey: "b1").isEmpty)
            #expect(try await store.conversation(sdkAppID: 1_400_000_000, between: "carol", and: "ops", minTime: 0, maxTime: 9_999, before: nil, limit: 5).isEmpty)
        }
    }

    @Test("a counted message raises the badge once, however often it is enqueued", arguments: Backend.available)
    func badge(_ backend: Backend) async throws {
        try await withStore(backend) { fixture, store in
            try await store.upsertDevice(device("d1", at: fixture.clock.nowMillis()))
            #expect(try await store.setDeviceState(sdkAppID: 1_400_000_000, userID: "bob", deviceID: "d1", state: .pushOnline, unread: 4))
            try await store.enqueue([job("m1", counts: true), job("m2", counts: true), job("m3", counts: false)])
            try await store.enqueue(job("m1", counts: true))
            #expect(try await store.devices(sdkAppID: 1_400_000_000, userIDs: ["bob"]).first?.badge == 6)
            // Foreground resets the count.
            try await store.setDeviceState(sdkAppID: 1_400_000_000, userID: "bob", deviceID: "d1", state: .online, unread: nil)
            let d = try #require(try await store.devices(sdkAppID: 1_400_000_000, userIDs: ["bob"]).first)
            #expect(d.badge == 0 && d.state == .online && d.stateChangedAtMillis == fixture.clock.nowMillis())
            #expect(try await store.setDeviceState(sdkAppID: 1_400_000_000, userID: "bob", deviceID: "nope", state: .online, unread: nil) == false)
        }
    }

    /// Issue 25: read marks lower the badge; the unread query answers from the same counters.
    @Test("unread counts per C2C peer rise with the badge; a read mark clears one and lowers the badge, not below 0", arguments: Backend.available)
    func unreadPerPeer(_ backend: Backend) async throws {
        try await withStore(backend) { fixture, store in
            let app: UInt64 = 1_400_000_000
            try await store.upsertDevices([device("d1", at: fixture.clock.nowMillis()), device("d2", at: fixture.clock.nowMillis())])
            #expect(try await store.setDeviceState(sdkAppID: app, userID: "bob", deviceID: "d1", state: .pushOnline, unread: 1))
            func from(_ peer: String, _ key: String, counts: Bool = true) -> NewJob {
                var j = job(key, counts: counts)
                j.unreadPeer = counts ? peer : nil
                return j
            }
            try await store.enqueue([from("alice", "a1"), from("alice", "a2"), from("carol", "c1"), from("alice", "a3", counts: false)])
            try await store.enqueue(from("alice", "a1"))
            fixture.clock.advance(seconds: 10)
            try await store.enqueue(from("alice", "a4"))
            #expect(try await store.unreadCounts(sdkAppID: app, userID: "bob", peers: nil) == ["alice": 3, "carol": 1])
            #expect(try await store.unreadCounts(sdkAppID: app, userID: "bob", peers: ["carol", "dave"]) == ["carol": 1])
            func badges() async throws -> [Int] { try await store.devices(sdkAppID: app, userIDs: ["bob"]).map(\.badge) }
            #expect(try await badges() == [5, 4])
            // A mark before alice's newest message leaves the count: counts are per conversation.
            #expect(try await store.markRead(sdkAppID: app, userID: "bob", peer: "alice", readAtMillis: fixture.clock.nowMillis() - 1) == 0)
            #expect(try await store.markRead(sdkAppID: app, userID: "bob", peer: "alice", readAtMillis: fixture.clock.nowMillis()) == 3)
            #expect(try await badges() == [2, 1])
            #expect(try await store.markRead(sdkAppID: app, userID: "bob", peer: "alice", readAtMillis: fixture.clock.nowMillis()) == 0, "already read")
            try await store.setDeviceState(sdkAppID: app, userID: "bob", deviceID: "d1", state: .online, unread: nil)
            #expect(try await store.markRead(sdkAppID: app, userID: "bob", peer: "carol", readAtMillis: fixture.clock.nowMillis()) == 1)
            #expect(try await badges() == [0, 0], "never below 0")
            #expect(try await store.unreadCounts(sdkAppID: app, userID: "bob", peers: nil) == ["alice": 0, "carol": 0])
            #expect(try await store.unreadCounts(sdkAppID: app, userID: "bob", peers: []) == [:])
        }
    }

    /// Issue 24: an unread count stored before the API bounded it made PostgreSQL's `badge + n` fail
    /// with bigint out of range, failing every write coalesced with it.
    @Test("a badge saturates at Int32.max: a poisoned count fails neither its own write nor the others'", arguments: Backend.available)
    func badgeSaturates(_ backend: Backend) async throws {
        try await withStore(backend) { fixture, store in
            try await store.upsertDevice(device("d1", at: fixture.clock.nowMillis()))
            try await store.upsertDevice(device("d2", user: "carol", at: fixture.clock.nowMillis()))
            #expect(try await store.setDeviceState(sdkAppID: 1_400_000_000, userID: "bob", deviceID: "d1", state: .pushOnline, unread: .max))
            try await store.enqueue([job("m1", counts: true), job("m2", user: "carol", counts: true), job("m3", counts: true)])
            let badges = try await store.devices(sdkAppID: 1_400_000_000, userIDs: ["bob", "carol"]).map { ($0.userID, $0.badge) }
            #expect(badges.sorted { $0.0 < $1.0 }.map(\.1) == [Badge.maxValue, 1], "\(badges)")
        }
    }

    /// `josé` with U+00E9 and `jose` + U+0301: canonically equivalent, different accounts.
    @Test("canonically equivalent user IDs are different users: badges, accounts and profiles by bytes", arguments: Backend.available)
    func byteIdentity(_ backend: Backend) async throws {
        let (a, b) = ("jos\u{E9}", "jose\u{301}")
        try await withStore(backend) { fixture, store in
            try await store.upsertDevice(device("d1", user: a, at: fixture.clock.nowMillis()))
            try await store.upsertDevice(device("d1", user: b, at: fixture.clock.nowMillis()))
            try await store.enqueue([job("m1", user: a, counts: true), job("m2", user: b, counts: true), job("m3", user: b, counts: true)])
            let devices = try await store.devices(sdkAppID: 1_400_000_000, userIDs: [a, b])
            #expect(devices.count == 2)
            #expect(devices.first { $0.userID.sameBytes(as: a) }?.badge == 1 && devices.first { $0.userID.sameBytes(as: b) }?.badge == 2)
            try await store.importAccounts(sdkAppID: 1_400_000_000, [(a, ["Tag_Profile_IM_Nick": "José"])])
            #expect(try await store.importedAccounts(sdkAppID: 1_400_000_000, userIDs: [a, b]) == [ExactString(a)])
            let profiles = try await store.profiles(sdkAppID: 1_400_000_000, userIDs: [b, a])
            #expect(profiles[ExactString(a)]?["Tag_Profile_IM_Nick"] == "José" && profiles[ExactString(b)] == nil)
        }
    }

    @Test("trimDevices keeps a user's most recently registered devices and names the others", arguments: Backend.available)
    func trimDevices(_ backend: Backend) async throws {
        try await withStore(backend) { fixture, store in
            let t = fixture.clock.nowMillis()
            try await store.upsertDevices([device("a", at: t + 3), device("b", at: t + 1), device("c", at: t + 2), device("z", user: "carol", at: t)])
            #expect(try await store.trimDevices(sdkAppID: 1_400_000_000, userID: "bob", keeping: 2) == ["b"])
            #expect(try await store.trimDevices(sdkAppID: 1_400_000_000, userID: "bob", keeping: 2) == [])
            #expect(try await store.devices(sdkAppID: 1_400_000_000, userIDs: ["bob", "carol"]).map(\.deviceID).sorted() == ["a", "c", "z"])
        }
    }

    @Test("a batch larger than one statement, group and C2C mixed: every copy stored once, each badge raised by its count", arguments: Backend.available)
    func largeMixedBatch(_ backend: Backend) async throws {
        try await withStore(backend) { (fixture: StoreFixture, store: any PushStore) async throws in
            let app: UInt64 = 1_400_000_000
            let users = (0..<150).map { "u\($0)" }
            for user in users + ["bob"] { try await store.upsertDevice(device("d", user: user, at: fixture.clock.nowMillis())) }
            #expect(try await store.createGroup(Group(sdkAppID: app, groupID: "g1", type: .work, name: "G", owner: "alice"), members: []))
            func c2c(_ key: String, to: String) -> NewMessage {
                NewMessage(
                    sdkAppID: app, msgKey: key, fromAccount: "alice", toAccount: to, msgSeq: 1, msgRandom: 1, msgTime: 1_795_000_000,
                    body: Data("{}".utf8), dedupeKey: "\(key)|\(to)", dedupeWindowMillis: 120_000, expiresAtMillis: fixture.clock.nowMillis() + 1_000
                )
            }
            let group = NewMessage(
                sdkAppID: app, msgKey: "g", fromAccount: "alice", toAccount: "", groupID: "g1", msgSeq: 0, msgRandom: 1, msgTime: 1_795_000_000,
                body: Data("{}".utf8), dedupeKey: "group|g1|1", dedupeWindowMillis: 300_000, expiresAtMillis: fixture.clock.nowMillis() + 1_000
            )
            // Two messages to all 150 users (a batch each, as two requests sharing a transaction),
            // the group message between them, and bob twice: the second copy of "b" is a repeat.
            var entries: [(message: NewMessage, jobs: [NewJob])] = users.map { (c2c("a", to: $0), [job("a:\($0)", user: $0, counts: true)]) }
            entries.append((group, [job("g:bob", counts: true)]))
            entries += users.map { (c2c("b", to: $0), [job("b:\($0)", user: $0, counts: $0 != "u7")]) }
            entries += [(c2c("b", to: "bob"), [job("b:bob", counts: true)]), (c2c("b", to: "bob"), [job("b2:bob", counts: true)])]
            let results = try await store.storeMessages(entries)
            #expect(results.count == entries.count)
            #expect(results[150] == .stored(msgSeq: 1), "the group message took the group's first MsgSeq")
            #expect(results.filter { $0 == .stored(msgSeq: 1) }.count == entries.count - 1)
            #expect(results.last == .duplicate(msgKey: "b", msgTime: 1_795_000_000, msgSeq: 1))
            #expect(try await store.stats().lanes[.chat]?.pending == 150 * 2 + 2, "the repeat enqueued nothing")
            let badges = Dictionary(uniqueKeysWithValues: try await store.devices(sdkAppID: app, userIDs: users + ["bob"]).map { ($0.userID, $0.badge) })
            #expect(badges["u0"] == 2)
            #expect(badges["u149"] == 2)
            #expect(badges["u7"] == 1)
            #expect(badges["bob"] == 2)
            let total: Int = badges.values.reduce(0, +)
            #expect(total == 150 * 2 - 1 + 2)
            #expect(Set(try await store.messageRecipients(sdkAppID: app, msgKey: "b")) == Set(users + ["bob"]))
        }
    }

    @Test("concurrent writers raising the same badges in different orders neither deadlock nor lose a count", arguments: Backend.available)
    func concurrentBadges(_ backend: Backend) async throws {
        try await withStore(backend) { fixture, store in
            let users = (0..<40).map { "u\($0)" }
            for user in users { try await store.upsertDevice(device("d", user: user, at: fixture.clock.nowMillis())) }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for writer in 0..<4 {
                    group.addTask {
                        for round in 0..<8 {
                            let order = writer % 2 == 0 ? users : users.reversed()
                            try await store.enqueue(order.map { job("w\(writer)r\(round):\($0)", user: $0, counts: true) })
                        }
                    }
                }
                try await group.waitForAll()
            }
            let badges = try await store.devices(sdkAppID: 1_400_000_000, userIDs: users).map(\.badge)
            #expect(badges == Array(repeating: 4 * 8, count: users.count))
        }
    }

    @Test("finished jobs and old records are purged after the retention", arguments: Backend.available)
    func purge(_ backend: Backend) async throws {
        try await withStore(backend) { fixture, store in
            try await store.enqueue(job("m1"))
            let claimed = try await store.claim(limit: 1, leaseMillis: Self.lease)
            try await store.complete(claimed.map { JobCompletion(job: $0, records: [record("d1", .delivered, at: fixture.clock.nowMillis())]) })
            fixture.clock.advance(millis: 1_000)
            try await store.purgeFinished(olderThanMillis: 2_000)
            #expect(try await store.enqueue(job("m1")) == false)
            fixture.clock.advance(millis: 2_000)
            try await store.purgeFinished(olderThanMillis: 2_000)
            #expect(try await store.pushRecords(sdkAppID: 1_400_000_000, idempotencyKey: "m1").isEmpty)
            #expect(try await store.enqueue(job("m1")) == true, "the key is forgotten after the retention")
        }
    }

    @Test("two handles on one database (two processes) never claim the same job", arguments: Backend.available)
    func concurrentClaims(_ backend: Backend) async throws {
        try await withStore(backend) { fixture, store in
            let other = try await fixture.open()
            try await store.enqueue((0..<400).map { job("m\($0)") })
            let claimed = try await withThrowingTaskGroup(of: [Int64].self) { group in
                for handle in [store, other, store, other] {
                    group.addTask {
                        var ids: [Int64] = []
                        while true {
                            let batch = try await handle.claim(limit: 7, leaseMillis: Self.lease)
                            if batch.isEmpty { return ids }
                            ids += batch.map(\.id)
                            try await handle.complete(batch.map { JobCompletion(job: $0) })
                        }
                    }
                }
                return try await group.reduce(into: [Int64]()) { $0 += $1 }
            }
            #expect(claimed.count == 400)
            #expect(Set(claimed).count == 400)
            try await other.close()
        }
    }

    @Test("a waiting worker is handed new chat jobs already claimed, with their devices; the rest stay claimable", arguments: Backend.available)
    func handoff(_ backend: Backend) async throws {
        try await withStore(backend) { fixture, store in
            let t0 = fixture.clock.nowMillis()
            try await store.upsertDevices([device("d1", at: t0), device("d2", user: "carol", at: t0), device("d3", user: "dave", at: t0)])
            async let taken = store.waitForJobs(timeout: .seconds(60), campaign: true, taking: 2, leaseMillis: Self.lease)
            try await eventually("the worker waits") { store.waitingWorkers == 1 }
            var later = job("m3", user: "dave")
            later.notBeforeMillis = t0 + 60_000
            try await store.enqueue([job("c1", user: "carol", lane: .campaign), job("m1"), later, job("m2", user: "carol"), job("m4", user: "dave")])
            let handed = await taken
            #expect(!handed.timedOut)
            // The first two chat jobs due now, claimed for the worker until its lease ends.
            #expect(handed.jobs.map(\.idempotencyKey) == ["m1", "m2"])
            #expect(handed.jobs.allSatisfy { $0.leaseUntilMillis == t0 + Self.lease && $0.claim == 1 && $0.attempts == 0 && $0.lane == .chat })
            #expect(try await store.jobStatus(sdkAppID: 1_400_000_000, idempotencyKey: "m1")?.claims == 1, "a handed job counts as claimed")
            #expect(handed.devices.map(\.deviceID).sorted() == ["d1", "d2"])
            // Nobody else claims them; the others are claimed as usual, chat first.
            #expect(try await store.claim(limit: 10, leaseMillis: Self.lease).map(\.idempotencyKey) == ["m4", "c1"])
            try await store.complete([JobCompletion(job: handed.jobs[0], records: [record("d1", .delivered)])])
            #expect(try await store.pushRecords(sdkAppID: 1_400_000_000, idempotencyKey: "m1").count == 1)
            // A worker that dies with a handed job: its lease runs out and the job comes back.
            fixture.clock.advance(millis: Self.lease)
            let back = try await store.claim(limit: 10, leaseMillis: Self.lease)
            #expect(back.map(\.idempotencyKey).sorted() == ["c1", "m2", "m4"])
            try await store.complete(back.map { JobCompletion(job: $0) })
            fixture.clock.advance(millis: 60_000)
            #expect(try await store.claim(limit: 10, leaseMillis: Self.lease).map(\.idempotencyKey) == ["m3"])

            // A stored message's jobs are handed over the same way; a duplicate hands nothing.
            let message = NewMessage(
                sdkAppID: 1_400_000_000, msgKey: "k1", fromAccount: "alice", toAccount: "bob", msgSeq: 1, msgRandom: 7, msgTime: 1_795_000_000,
                body: Data("{}".utf8), dedupeKey: "alice|1|7|99", dedupeWindowMillis: 120_000, expiresAtMillis: fixture.clock.nowMillis() + 604_800_000
            )
            async let next = store.waitForJobs(timeout: .seconds(60), campaign: false, taking: 64, leaseMillis: Self.lease)
            try await eventually("the worker waits") { store.waitingWorkers == 1 }
            #expect(try await store.storeMessage(message, jobs: [job("k1:bob")]) == .stored(msgSeq: 1))
            let stored = await next
            #expect(stored.jobs.map(\.idempotencyKey) == ["k1:bob"] && stored.devices.map(\.deviceID) == ["d1"])
            async let none = store.waitForJobs(timeout: .seconds(60), campaign: false, taking: 64, leaseMillis: Self.lease)
            try await eventually("the worker waits") { store.waitingWorkers == 1 }
            var copy = message
            copy.msgKey = "k2"
            #expect(try await store.storeMessage(copy, jobs: [job("k2:bob")]) == .duplicate(msgKey: "k1", msgTime: 1_795_000_000, msgSeq: 1))
            // The duplicate's job is not handed over (its handoff may wake the worker with nothing);
            // a new job is, if the worker still waits.
            try await store.enqueue(job("m9"))
            let after = await none
            #expect(!after.timedOut && after.jobs.allSatisfy { $0.idempotencyKey == "m9" }, "\(after.jobs.map(\.idempotencyKey))")
        }
    }

    @Test("an enqueue wakes a worker waiting on another handle", arguments: Backend.available)
    func wakeUp(_ backend: Backend) async throws {
        try await withStore(backend) { fixture, store in
            // SQLite wakes waiters of the same handle (one process); PostgreSQL those of any handle.
            let waiter = backend == .postgres ? try await fixture.open() : store
            if let waiter = waiter as? PostgresStore { try await eventually("LISTEN is set up") { waiter.isListening } }
            async let woke = waiter.waitForJobs(timeout: .seconds(60))
            try await eventually("the worker waits") { waiter.waitingWorkers == 1 }
            try await store.enqueue(job("m1"))
            #expect(await woke, "woken by the enqueue, not by its timeout")
            if backend == .postgres { try await waiter.close() }
        }
    }

    @Test("a user's latest push records, newest first with their job keys; a job's payload until it finishes", arguments: Backend.available)
    func recordsByUserAndPayload(_ backend: Backend) async throws {
        try await withStore(backend) { fixture, store in
            try await store.enqueue([job("m1:bob"), job("m2:bob"), job("m3:alice", user: "alice"), job("m4:bob", app: 1_400_000_001)])
            #expect(try await store.jobStatus(sdkAppID: 1_400_000_000, idempotencyKey: "m1:bob")?.payload == Data(#"{"k":"m1:bob"}"#.utf8))
            let claimed = try await store.claim(limit: 10, leaseMillis: Self.lease)
            var completions: [JobCompletion] = []
            for (index, claimed) in claimed.enumerated() {
                fixture.clock.advance(millis: 1)
                completions.append(JobCompletion(job: claimed, records: [record("d\(index)", .delivered, at: fixture.clock.nowMillis())]))
            }
            try await store.complete(completions)
            let bob = try await store.pushRecords(sdkAppID: 1_400_000_000, userID: "bob", limit: 10)
            #expect(bob.map(\.jobKey) == ["m2:bob", "m1:bob"], "newest first, this app's, this user's")
            #expect(try await store.pushRecords(sdkAppID: 1_400_000_000, userID: "bob", limit: 1).map(\.jobKey) == ["m2:bob"])
            #expect(try await store.pushRecords(sdkAppID: 1_400_000_000, userID: "BOB", limit: 10).isEmpty, "user ids compare as bytes")
            #expect(try await store.pushRecords(sdkAppID: 1_400_000_000, userID: "bob", limit: -5).isEmpty)
            // A finished job's payload is emptied (the record stays).
            #expect(try await store.jobStatus(sdkAppID: 1_400_000_000, idempotencyKey: "m1:bob")?.payload.isEmpty == true)
        }
    }
}

func record(_ device: String, _ outcome: PushRecord.Outcome, at: Int64 = 0) -> PushRecord {
    PushRecord(deviceID: device, vendor: "apns", outcome: outcome, vendorMessageID: outcome == .delivered ? "id-\(device)" : nil, attempts: 1, atMillis: at)
}
