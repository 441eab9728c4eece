/// The four headers the provider signs with, read case-insensitively by the caller.
public struct SignatureHeaders: Sendable {
    public var authorization: String?
    public var signType: String?
    public var dateTime: String?
    public var msgID: String?

    public init(authorization: String?, signType: String?, dateTime: String?, msgID: String?) {
        self.authorization = authorization
        self.signType = signType
        self.dateTime = dateTime
        self.msgID = msgID
    }

    /// Reads the headers through a case-insensitive lookup function.
    public init(lookup: (String) -> String?) {
        self.init(
            authorization: lookup("Authorization"), signType: lookup("SignType"), dateTime: lookup("DateTime"),
            msgID: lookup("MsgID"))
    }
}
