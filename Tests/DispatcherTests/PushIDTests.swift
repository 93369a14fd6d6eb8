import Foundation
import Testing

@testable import Dispatcher

@Suite("Push ids")
struct PushIDTests {
    @Test("A push id is a lower-case version 4 UUID, stable per job and device, and the same as in earlier releases")
    func format() {
        // Ids the previous release (String(format:)) gave: a retry across an upgrade keeps its apns-id.
        let known: [(Int64, String, String)] = [
            (1, "iphone", "00000000-0001-49b9-82d5-d57c6f482920"),
            (123_456_789_012, "android-2", "001cbe99-1a14-4eda-8785-853799cf9e73"),
            (Int64.max, "", "ffffffff-ffff-4cbf-829c-9ce484222325"),
            (-5, "设备", "ffffffff-fffb-4f4b-8397-97c9d5b9913b"),
        ]
        for (job, device, expected) in known {
            let id = JobProcessor.pushID(job: job, device: device)
            #expect(id == expected)
            #expect(id == JobProcessor.pushID(job: job, device: device))
            // APNs: apns-id is a canonical UUID (vendor-protocols.md 1.7, BadMessageId otherwise).
            #expect(UUID(uuidString: id) != nil && id == id.lowercased())
            #expect(Array(id)[14] == "4" && Array(id)[19] == "8")
        }
        #expect(JobProcessor.pushID(job: 1, device: "a") != JobProcessor.pushID(job: 1, device: "b"))
        #expect(JobProcessor.pushID(job: 1, device: "a") != JobProcessor.pushID(job: 2, device: "a"))
    }
}
