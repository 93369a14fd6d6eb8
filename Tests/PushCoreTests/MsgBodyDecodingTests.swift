import Foundation
import PushCore
import Testing

@Suite("MsgBody and OfflinePushInfo decoding")
struct MsgBodyDecodingTests {
    @Test("All nine element types decode with Tencent's field names")
    func allNineElementTypes() throws {
        let body = try Fixtures.body(
            """
            [{"MsgType":"TIMTextElem","MsgContent":{"Text":"hi"}},
             {"MsgType":"TIMLocationElem","MsgContent":{"Desc":"Shenzhen","Latitude":22.5,"Longitude":113.9}},
             {"MsgType":"TIMFaceElem","MsgContent":{"Index":1,"Data":"content"}},
             {"MsgType":"TIMCustomElem","MsgContent":{"Data":"d","Desc":"desc","Ext":"e","Sound":"s.aiff"}},
             {"MsgType":"TIMSoundElem","MsgContent":{"Url":"https://x/a.m4a","UUID":"u1","Size":100,"Second":5,"Download_Flag":2}},
             {"MsgType":"TIMImageElem","MsgContent":{"UUID":"u2","ImageFormat":1,"ImageInfoArray":[{"Type":1,"Size":10,"Width":2,"Height":3,"URL":"https://x/i.jpg"}]}},
             {"MsgType":"TIMFileElem","MsgContent":{"Url":"https://x/f","UUID":"u3","FileSize":9,"FileName":"a.pdf","Download_Flag":2}},
             {"MsgType":"TIMVideoFileElem","MsgContent":{"VideoUrl":"https://x/v.mp4","VideoUUID":"u4","VideoSize":1,"VideoSecond":8,"VideoFormat":"mp4","VideoDownloadFlag":2,"ThumbUrl":"https://x/t.jpg","ThumbUUID":"u5","ThumbSize":1,"ThumbWidth":2,"ThumbHeight":3,"ThumbFormat":"JPG","ThumbDownloadFlag":2}},
             {"MsgType":"TIMRelayElem","MsgContent":{"Title":"Chat","MsgNum":1,"CompatibleText":"upgrade","AbstractList":["a: hi"],"MsgList":[{"From_Account":"a","To_Account":"b","MsgSeq":1,"MsgRandom":2,"MsgTimeStamp":3,"MsgBody":[{"MsgType":"TIMTextElem","MsgContent":{"Text":"inner"}}]}]}}]
            """
        )
        #expect(body.elements.map(\.msgType) == [
            "TIMTextElem", "TIMLocationElem", "TIMFaceElem", "TIMCustomElem", "TIMSoundElem", "TIMImageElem",
            "TIMFileElem", "TIMVideoFileElem", "TIMRelayElem",
        ])
        guard case .location(let location) = body.elements[1], case .custom(let custom) = body.elements[3],
            case .image(let image) = body.elements[5], case .video(let video) = body.elements[7],
            case .relay(let relay) = body.elements[8], case .sound(let sound) = body.elements[4]
        else {
            Issue.record("wrong element cases")
            return
        }
        #expect(location.latitude == 22.5 && location.desc == "Shenzhen")
        #expect(custom == CustomElem(data: "d", desc: "desc", ext: "e", sound: "s.aiff"))
        #expect(image.imageInfoArray?.first?.url == "https://x/i.jpg")
        #expect(video.thumbFormat == "JPG" && video.videoSecond == 8)
        #expect(sound.downloadFlag == 2 && sound.second == 5)
        #expect(relay.msgList?.first?.msgBody?.elements == [.text(.init(text: "inner"))])
    }

    @Test("An unknown MsgType is refused with 90002 naming the element")
    func unknownMsgType() {
        #expect(throws: TencentError(code: 90002, message: "MsgBody[1].MsgType \"TIMBogusElem\" is not a known element type")) {
            try Fixtures.body(#"[{"MsgType":"TIMTextElem","MsgContent":{"Text":"a"}},{"MsgType":"TIMBogusElem","MsgContent":{}}]"#)
        }
    }

    @Test("A wrong field type is refused with a message naming the field")
    func wrongFieldType() throws {
        do {
            _ = try Fixtures.body(#"[{"MsgType":"TIMTextElem","MsgContent":{"Text":42}}]"#)
            Issue.record("decoded a number as Text")
        } catch let error as DecodingError {
            let failure = TencentError(decoding: error)
            #expect(failure == TencentError(code: 90002, message: "MsgBody[0].MsgContent.Text must be a string"))
        }
    }

    @Test("A missing required field names the field")
    func missingField() throws {
        do {
            _ = try Fixtures.body(#"[{"MsgType":"TIMLocationElem","MsgContent":{"Desc":"x","Longitude":1}}]"#)
            Issue.record("decoded a location without Latitude")
        } catch let error as DecodingError {
            #expect(TencentError(decoding: error).message == "MsgBody[0].MsgContent.Latitude is required")
        }
    }

    @Test("Two TIMCustomElem in one message are refused")
    func twoCustomElements() {
        #expect(throws: TencentError(code: 90002, message: "MsgBody may hold at most one TIMCustomElem, found 2 (MsgBody[0], MsgBody[2])")) {
            try Fixtures.body(
                #"[{"MsgType":"TIMCustomElem","MsgContent":{"Desc":"a"}},{"MsgType":"TIMTextElem","MsgContent":{"Text":"b"}},{"MsgType":"TIMCustomElem","MsgContent":{"Desc":"c"}}]"#
            )
        }
    }

    @Test("A field of the wrong type outside MsgBody maps to 90001")
    func wrongTypeOutsideMsgBody() throws {
        do {
            _ = try Fixtures.info(#"{"PushFlag":"yes"}"#)
            Issue.record("decoded a string PushFlag")
        } catch let error as DecodingError {
            #expect(TencentError(decoding: error) == TencentError(code: 90001, message: "PushFlag must be an integer"))
        }
    }

    @Test("OfflinePushInfo carries every AndroidInfo and ApnsInfo field; unknown keys are ignored")
    func offlinePushInfoFields() throws {
        let info = try Fixtures.info(
            """
            {"PushFlag":0,"Title":"T","Desc":"D","Ext":"{}","SomethingNew":1,
             "AndroidInfo":{"Sound":"s","PushStyle":1,"HuaWeiChannelID":"hw","XiaoMiChannelID":"mi","OPPOChannelID":"op",
               "GoogleChannelID":"g","VIVOClassification":0,"VIVOCategory":"IM","HuaWeiImportance":"LOW",
               "ExtAsHuaweiIntentParam":1,"HuaWeiCategory":"IM","HuaWeiImage":"https://h","HonorImage":"https://o",
               "HonorImportance":"LOW","GoogleImage":"https://g","OPPOCategory":"IM","OPPOPrivateMsgTemplateId":"tpl",
               "MeiZuNoticeMsgType":1,"NewVendorField":"x"},
             "ApnsInfo":{"Sound":"a.aiff","BadgeMode":1,"Title":"AT","SubTitle":"ST","Image":"https://i",
               "MutableContent":1,"InterruptionLevel":"time-sensitive","ContentAvailable":1}}
            """
        )
        let android = try #require(info.androidInfo)
        let apns = try #require(info.apnsInfo)
        #expect(android.huaWeiChannelID == "hw" && android.xiaoMiChannelID == "mi" && android.oppoChannelID == "op")
        #expect(android.googleChannelID == "g" && android.vivoClassification == 0 && android.vivoCategory == "IM")
        #expect(android.huaWeiImportance == "LOW" && android.extAsHuaweiIntentParam == 1 && android.huaWeiCategory == "IM")
        #expect(android.huaWeiImage == "https://h" && android.honorImage == "https://o" && android.honorImportance == "LOW")
        #expect(android.googleImage == "https://g" && android.oppoCategory == "IM" && android.oppoPrivateMsgTemplateId == "tpl")
        #expect(android.meiZuNoticeMsgType == 1 && android.sound == "s" && android.pushStyle == 1)
        #expect(apns.sound == "a.aiff" && apns.badgeMode == 1 && apns.title == "AT" && apns.subTitle == "ST")
        #expect(apns.image == "https://i" && apns.mutableContent == 1 && apns.interruptionLevel == "time-sensitive")
        #expect(apns.contentAvailable == 1)
    }

    @Test("VIVOClassification is accepted as a number or a numeric string", arguments: [#"1"#, #""1""#])
    func vivoClassificationForms(_ value: String) throws {
        let info = try Fixtures.info(#"{"AndroidInfo":{"VIVOClassification":\#(value)}}"#)
        #expect(info.androidInfo?.vivoClassification == 1)
    }

    @Test("A non-numeric VIVOClassification is refused")
    func vivoClassificationGarbage() {
        #expect(throws: DecodingError.self) { try Fixtures.info(#"{"AndroidInfo":{"VIVOClassification":"system"}}"#) }
    }

    @Test("MsgBody round-trips through its encoder")
    func roundTrip() throws {
        let body = try Fixtures.body(#"[{"MsgType":"TIMFaceElem","MsgContent":{"Index":3,"Data":"x"}},{"MsgType":"TIMTextElem","MsgContent":{"Text":"y"}}]"#)
        let again = try JSONDecoder().decode(MsgBody.self, from: JSONEncoder().encode(body))
        #expect(again == body)
    }
}
