import Foundation
import Testing

@testable import Dispatcher

@Suite("Push ids")
struct PushIDTests {
    /// The layout (stable since the first release, so a retry across an upgrade keeps its apns-id):
    /// `JJJJJJJJ-jjjj-4HHH-8hhh-LLLLLLLLLLLL` where `J` is bits 16-47 of the job id (two's
    /// complement), `j` its low 16 bits, and `H`, `h`, `L` are the top 12 bits, bits 40-51 and the low
    /// 48 bits of the 64-bit FNV-1a hash of the device id's UTF-8 bytes. The expected hashes are the
    /// FNV reference's published test vectors (draft-eastlake-fnv, FNV-1a 64): "" → cbf29ce484222325,
    /// "a" → af63dc4c8601ec8c, "foobar" → 85944171f73967e8.
    @Test("A push id is a lower-case version 4 UUID laid out from the job id and the device id's FNV-1a hash")
    func format() {
        let known: [(Int64, String, String)] = [
            (1, "a", "00000000-0001-4af6-83dc-dc4c8601ec8c"),
            (123_456_789_012, "foobar", "001cbe99-1a14-4859-8441-4171f73967e8"),  // 0x1c_be99_1a14
            (Int64.max, "", "ffffffff-ffff-4cbf-829c-9ce484222325"),
            (-5, "", "ffffffff-fffb-4cbf-829c-9ce484222325"),  // 0xffff_ffff_ffff_fffb
        ]
        for (job, device, expected) in known {
            let id = JobProcessor.pushID(job: job, device: device)
            #expect(id == expected)
            // APNs: apns-id is a canonical UUID (vendor-protocols.md 1.7, BadMessageId otherwise).
            #expect(UUID(uuidString: id) != nil && id == id.lowercased())
        }
        // Hashed by bytes: a different spelling of the same text is another device.
        #expect(JobProcessor.pushID(job: 1, device: "jos\u{E9}") != JobProcessor.pushID(job: 1, device: "jose\u{301}"))
        #expect(JobProcessor.pushID(job: 1, device: "a") != JobProcessor.pushID(job: 2, device: "a"))
    }
}
