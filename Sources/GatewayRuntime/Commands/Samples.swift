import GatewayCore
import GatewayCrypto
import GatewaySignature

/// Realistic notification bodies for each documented event code, for `gateway send`.
///
/// Every call makes a fresh `merchantTransID` (and the caller a fresh MsgID), so sending the
/// same sample twice is two notifications, not a duplicate. Card data is the public test card
/// 4111 1111 1111 1111 (only its first six and last four digits, as the provider sends).
public enum Samples {
    public static let eventCodes = [
        "Payment", "Capture", "Cancel", "Refund", "MerchandiseCredit", "Recapture", "Cryptogram", "TokenUpdate",
    ]

    /// A body for `eventCode`, or nil when there is no built-in sample for it.
    public static func body(eventCode: String, now: Int64) -> JSONValue? {
        guard eventCodes.contains(eventCode) else { return nil }
        let time = EVODateTime.format(epochSeconds: now, offsetMinutes: 480)
        let merchantTransID = "MT" + Hex.encode(SecureRandom.bytes(8)).uppercased()
        let evoTransID = Hex.encode(SecureRandom.bytes(16))
        func s(_ v: String) -> JSONValue { .string(v) }
        func obj(_ pairs: KeyValuePairs<String, JSONValue>) -> JSONValue { .object(JSONObject(pairs)) }
        let amount = obj(["currency": s("SGD"), "value": s("128.50")])
        let merchantTransInfo = obj([
            "merchantTransID": s(merchantTransID), "merchantTransTime": s(time),
            "merchantOrderReference": s("ORD-" + merchantTransID.suffix(8)),
        ])
        let evoTransInfo = obj(["evoTransID": s(evoTransID), "evoTransTime": s(time), "traceNum": s("004211")])
        let card = obj([
            "first6No": s("411111"), "last4No": s("1111"), "paymentBrand": s("Visa"), "holderName": s("JANE DOE"),
            "fundingType": s("credit"), "issuingCountry": s("USA"), "expiryDate": s("1230"),
        ])
        let paymentMethod = obj(["type": s("card"), "card": card])
        let result = obj(["code": s("S0000"), "message": s("Success")])
        let pspData = obj(["name": s("Visa Direct Acquirer"), "networkTxReference": s("483297487231504")])
        func transaction(_ extra: KeyValuePairs<String, JSONValue> = [:]) -> JSONValue {
            var o = JSONObject([
                "merchantTransInfo": merchantTransInfo, "evoTransInfo": evoTransInfo, "status": s("Success"),
                "transAmount": amount, "billingAmount": amount,
            ])
            for (k, v) in extra { o[k] = v }
            return .object(o)
        }
        let metadata = s(#"{"orderNo":"SO-1001","storeName":"Online Store SG"}"#)
        var body = JSONObject(["eventCode": s(eventCode)])
        switch eventCode {
        case "Payment":
            body["metadata"] = metadata
            body["payment"] = transaction(["captureMethod": s("Automatic")])
            body["paymentMethod"] = paymentMethod
            body["pspData"] = pspData
            body["result"] = result
        case "Capture", "Cancel", "Refund", "MerchandiseCredit":
            let key = eventCode.prefix(1).lowercased() + eventCode.dropFirst()
            body["metadata"] = metadata
            body[key] = transaction()
            body["payment"] = transaction()
            body["paymentMethod"] = paymentMethod
            body["result"] = result
        case "Recapture":
            body["metadata"] = metadata
            body["recapture"] = transaction()
            body["payment"] = transaction()
            body["paymentMethod"] = paymentMethod
            body["pspData"] = pspData
        case "Cryptogram":
            body["metadata"] = metadata
            body["cryptogram"] = obj(["merchantTransInfo": merchantTransInfo, "status": s("Success")])
            body["paymentMethod"] = obj([
                "card": card,
                "networkToken": obj([
                    "tokenID": s(Hex.encode(SecureRandom.bytes(8))), "status": s("Active"), "eci": s("07"),
                    "tokenCryptogram": s("AgAAAAAABk4DWZ4C28yUQAAAAAA="), "value": s("4895370012003478"),
                    "expiryDate": s("1230"), "first6No": s("489537"), "last4No": s("3478"),
                ]),
            ])
        case "TokenUpdate":
            body["paymentMethod"] = obj([
                "card": card,
                "networkToken": obj([
                    "tokenID": s(Hex.encode(SecureRandom.bytes(8))), "status": s("Active"), "expiryDate": s("1231"),
                    "tokenReferenceID": s("DNITHE" + Hex.encode(SecureRandom.bytes(6)).uppercased()),
                    "paymentAccountReference": s("V0010013020202020202020202020"), "value": s("4895370012003478"),
                    "first6No": s("489537"), "last4No": s("3478"),
                ]),
            ])
        default:
            return nil
        }
        return .object(body)
    }

    /// A fresh MsgID: 32 lower-case hex characters, as the provider's UUID-like IDs.
    public static func newMsgID() -> String {
        Hex.encode(SecureRandom.bytes(16))
    }
}
