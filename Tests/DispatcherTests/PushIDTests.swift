import Foundation
import Testing

@testable import Dispatcher

@Suite("Push ids")
struct PushIDTests {
    @Test("A push id is a lower-case version 4 UUID, stable per job and device, and formatted as before")
    func format() {
        for (job, device) in [(Int64(1), "iphone"), (Int64(123_456_789_012), "android-2"), (Int64.max, ""), (Int64(-5), "设备")] {
            let id = JobProcessor.pushID(job: job, device: device)
            #expect(id == JobProcessor.pushID(job: job, device: device))
            #expect(UUID(uuidString: id) != nil && id == id.lowercased())
            #expect(Array(id)[14] == "4" && Array(id)[19] == "8")
            // The reference: the String(format:) form the ids had before, so retries across an
            // upgrade keep their apns-id.
            var hash: UInt64 = 0xcbf2_9ce4_8422_2325
            for byte in device.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
            let j = UInt64(bitPattern: job)
            let reference = String(
                format: "%08llx-%04llx-4%03llx-8%03llx-%012llx", j >> 16 & 0xffff_ffff, j & 0xffff, hash >> 52, hash >> 40 & 0xfff,
                hash & 0xffff_ffff_ffff
            )
            #expect(id == reference)
        }
        #expect(JobProcessor.pushID(job: 1, device: "a") != JobProcessor.pushID(job: 1, device: "b"))
        #expect(JobProcessor.pushID(job: 1, device: "a") != JobProcessor.pushID(job: 2, device: "a"))
    }
}
