import Messaging
import PushCore
import Testing

/// Who gets a push job and whether it may notify (push-rules.md sections 1.2 and 1.3).
@Suite("Recipients and do-not-disturb")
struct RecipientsTests {
    static let group = Group(sdkAppID: 1, groupID: "g1", type: .public, name: "Team", owner: "alice")

    func fate(
        _ flag: MsgFlag, type: GroupType = .public, user: String = "bob", atAll: Bool = false, at: Set<ExactString> = [], directed: Set<ExactString>? = nil,
        settings: ReceiveSettings = ReceiveSettings()
    ) -> Recipients.Fate {
        var group = Self.group
        group.type = type
        return Recipients.group(
            group, member: GroupMember(userID: user, msgFlag: flag), sender: "alice", atAll: atAll, atAccounts: at, directedTo: directed,
            settings: settings, nowSeconds: 1_795_000_000
        )
    }

    @Test("MsgFlag: Discard gets no job, AcceptNotNotify a silent one, ExceptAt pushes only when @-ed")
    func msgFlags() {
        #expect(fate(.acceptAndNotify) == .push)
        #expect(fate(.discard) == .none(reason: "Discard"))
        #expect(fate(.acceptNotNotify) == .silent(reason: "AcceptNotNotify"))
        #expect(fate(.acceptNotNotify, atAll: true) == .silent(reason: "AcceptNotNotify"), "@all does not override AcceptNotNotify")
        #expect(fate(.acceptNotNotifyExceptAt) == .silent(reason: "AcceptNotNotifyExceptAt"))
        #expect(fate(.acceptNotNotifyExceptAt, at: ["bob"]) == .push)
        #expect(fate(.acceptNotNotifyExceptAt, at: ["carol"]) == .silent(reason: "AcceptNotNotifyExceptAt"))
        #expect(fate(.acceptNotNotifyExceptAt, atAll: true) == .push)
    }

    @Test("the sender, undirected members and online-only group types get no job")
    func noJob() {
        #expect(fate(.acceptAndNotify, user: "alice") == .none(reason: "Sender"))
        #expect(fate(.acceptAndNotify, directed: ["carol"]) == .none(reason: "NotDirected"))
        #expect(fate(.acceptAndNotify, directed: ["bob"]) == .push)
        #expect(fate(.acceptAndNotify, type: .meeting) == .none(reason: "OnlineOnlyGroupType"))
        #expect(fate(.acceptAndNotify, type: .avChatRoom) == .none(reason: "OnlineOnlyGroupType"))
        for type in GroupType.allCases where type != .meeting && type != .avChatRoom { #expect(fate(.acceptAndNotify, type: type) == .push) }
    }

    @Test("1.3: a C2C peer's mute applies only with WithMuteNotifications; a group's mute, MsgFlag and do-not-disturb always")
    func muting() {
        let muted = ReceiveSettings(muted: true)
        func c2c(_ settings: ReceiveSettings, flag: Bool, now: Int64 = 1_795_000_000) -> Recipients.Fate {
            Recipients.c2c(sender: "alice", recipient: "bob", settings: settings, withMuteNotifications: flag, nowSeconds: now)
        }
        // Tencent: the recipient's mute of the sender is ignored by default; the flag makes it apply.
        #expect(c2c(muted, flag: false) == .push)
        #expect(c2c(muted, flag: true) == .silent(reason: "ReceiveOptNotNotify"))
        #expect(fate(.acceptAndNotify, settings: muted) == .silent(reason: "ReceiveOptNotNotify"))
        #expect(fate(.discard) == .none(reason: "Discard"))
        // 1_795_000_000 is 11:06:40 UTC: inside a window from 11:00 for an hour, whatever the flag.
        let night = ReceiveSettings(doNotDisturb: DoNotDisturb(start: 11 * 3600, duration: 3600))
        #expect(fate(.acceptAndNotify, settings: night) == .silent(reason: "DoNotDisturb"))
        #expect(c2c(night, flag: false) == .silent(reason: "DoNotDisturb"))
        #expect(c2c(night, flag: true) == .silent(reason: "DoNotDisturb"))
        #expect(c2c(night, flag: false, now: 1_795_000_000 + 3600) == .push, "after the window")
        #expect(Recipients.c2c(sender: "bob", recipient: "bob", settings: .init(), withMuteNotifications: false, nowSeconds: 0) == .none(reason: "Sender"))
    }

    @Test("do-not-disturb windows: daily ones wrap midnight, one-off ones are absolute")
    func windows() {
        let day: Int64 = 86_400
        let base: Int64 = 1_795_000_000 - 1_795_000_000 % day  // a midnight
        let nightly = DoNotDisturb(start: 22 * 3600, duration: 8 * 3600)  // 22:00 to 06:00
        #expect(nightly.contains(nowSeconds: base + 23 * 3600))
        #expect(nightly.contains(nowSeconds: base + 5 * 3600 + 3599))
        #expect(!nightly.contains(nowSeconds: base + 6 * 3600))
        #expect(!nightly.contains(nowSeconds: base + 21 * 3600 + 3599))
        #expect(nightly.contains(nowSeconds: base + 22 * 3600))
        #expect(DoNotDisturb(start: 0, duration: day).contains(nowSeconds: base + 12_345), "all day")
        #expect(!DoNotDisturb(start: 0, duration: 0).contains(nowSeconds: base), "an empty window")
        let once = DoNotDisturb(start: base + 100, duration: 50)
        #expect(!once.isDaily && once.contains(nowSeconds: base + 100) && once.contains(nowSeconds: base + 149))
        #expect(!once.contains(nowSeconds: base + 150) && !once.contains(nowSeconds: base + 99) && !once.contains(nowSeconds: base + day + 120))
    }

    /// The issue 24 case: a window stored before the API checked its range, with a start and a
    /// length whose sum overflows Int64.
    @Test("a stored do-not-disturb window with extreme values answers without trapping")
    func extremeWindows() {
        let now: Int64 = 1_795_000_000
        #expect(DoNotDisturb(start: 9_223_372_036_854_775_000, duration: 1000).contains(nowSeconds: now) == false)
        #expect(DoNotDisturb(start: 86_400, duration: .max).contains(nowSeconds: now), "from 1970-01-02 for ever")
        #expect(DoNotDisturb(start: .min, duration: 3600).isDaily)
        #expect(DoNotDisturb(start: .min, duration: .max).contains(nowSeconds: now), "a daily window of a day or more is all day")
        // Int64.min ≡ 30,592 (mod 86,400): 08:29:52 UTC daily, an hour long.
        let odd = DoNotDisturb(start: .min, duration: 3600)
        let midnight = now - now % 86_400
        #expect(odd.contains(nowSeconds: midnight + 30_592) && !odd.contains(nowSeconds: midnight + 30_591))
        let c2c = Recipients.c2c(
            sender: "alice", recipient: "bob", settings: .init(doNotDisturb: DoNotDisturb(start: .max, duration: .max)),
            withMuteNotifications: false, nowSeconds: now
        )
        #expect(c2c == .push)
    }

    /// Canonically equivalent but different accounts: `josé` with U+00E9 and `jose` + U+0301.
    @Test("identifiers compare as bytes: sender, @ and directed lists do not fold josé into jose + U+0301")
    func byteIdentity() {
        let precomposed = "jos\u{E9}", decomposed = "jose\u{301}"
        #expect(precomposed == decomposed, "Swift's == is canonical equivalence")
        #expect(!precomposed.sameBytes(as: decomposed))
        #expect(Recipients.c2c(sender: precomposed, recipient: decomposed, settings: .init(), withMuteNotifications: false, nowSeconds: 0) == .push)
        #expect(fate(.acceptAndNotify, user: decomposed) == .push)
        #expect(fate(.acceptNotNotifyExceptAt, user: decomposed, at: [ExactString(precomposed)]) == .silent(reason: "AcceptNotNotifyExceptAt"))
        #expect(fate(.acceptNotNotifyExceptAt, user: decomposed, at: [ExactString(decomposed)]) == .push)
        #expect(fate(.acceptAndNotify, user: decomposed, directed: [ExactString(precomposed)]) == .none(reason: "NotDirected"))
        #expect([precomposed, decomposed].exactSet.count == 2 && Set([precomposed, decomposed]).count == 1)
    }
}
