import Testing

@testable import GatewayCore

@Suite("Address blocks and rate limits")
struct NetTests {
    @Test func cidrBlocksMatchTheirAddresses() throws {
        let v4 = try #require(CIDR("10.1.0.0/16"))
        #expect(v4.contains(try #require(CIDR.parseAddress("10.1.255.3"))))
        #expect(!v4.contains(try #require(CIDR.parseAddress("10.2.0.1"))))
        // IPv4-mapped IPv6 (a dual-stack listener's view of an IPv4 peer) is the IPv4 address.
        #expect(v4.contains(try #require(CIDR.parseAddress("::ffff:10.1.2.3"))))
        let host = try #require(CIDR("127.0.0.1"))
        #expect(host.prefixLength == 32 && host.description == "127.0.0.1/32")
        let v6 = try #require(CIDR("2001:db8::/32"))
        #expect(v6.contains(try #require(CIDR.parseAddress("2001:db8:ffff::1"))))
        #expect(!v6.contains(try #require(CIDR.parseAddress("2001:db9::1"))))
        #expect(!v6.contains(try #require(CIDR.parseAddress("10.1.2.3"))))
        #expect(CIDR("10.0.0.1/12")?.description == "10.0.0.0/12")  // host bits cleared
        #expect(try #require(CIDR("0.0.0.0/0")).contains(try #require(CIDR.parseAddress("8.8.8.8"))))
        for bad in ["10.0.0.0/33", "10.0.0/8", "fe80::/129", "host.example", "10.0.0.0/", "10.0.0.0/-1", "1.2.3.4/٣"] {
            #expect(CIDR(bad) == nil, "\(bad)")
        }
    }

    @Test func tokenBucketAllowsABurstThenRefills() {
        let b = TokenBucket(perSecond: 2, burst: 3)
        let t0: UInt64 = 1_000_000_000
        #expect(b.take(nowNs: t0).allowed)
        #expect(b.take(nowNs: t0).allowed)
        #expect(b.take(nowNs: t0).allowed)
        let refused = b.take(nowNs: t0)
        #expect(!refused.allowed && refused.retryAfterSeconds == 1)
        // Half a second later one token (2 per second) is back, not more.
        #expect(b.take(nowNs: t0 + 500_000_000).allowed)
        #expect(!b.take(nowNs: t0 + 500_000_000).allowed)
        // A long pause refills up to the burst only.
        let later = t0 + 60_000_000_000
        for _ in 0..<3 { #expect(b.take(nowNs: later).allowed) }
        #expect(!b.take(nowNs: later).allowed)
        // A clock that goes back does not mint tokens.
        #expect(!b.take(nowNs: t0).allowed)
    }
}
