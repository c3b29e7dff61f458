// S3's additional checksums without HTTP: the CRCs against their published check values, the
// streaming hasher, the composite multipart checksum, the records that keep them (and records
// written before them), the multipart model's checksum rules, and the aws-chunked decoder's
// trailers (parsing, the signed-trailer signature, malformed trailers).
#include "services/s3/checksum.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "auth/sigv4.h"
#include "core/aws_error.h"
#include "core/crc.h"
#include "core/encoding.h"
#include "s3_test_fixture.h"
#include "services/s3/aws_chunked.h"

namespace vigil::s3 {
namespace {

std::string pattern(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * i * 31 + 7) >> 3);
  return s;
}

TEST(Crc, CheckValues) {
  // The "check" of each CRC's catalogue entry: the CRC of "123456789".
  EXPECT_EQ(crc32c(0, "123456789", 9), 0xE3069283u);
  EXPECT_EQ(crc64nvme(0, "123456789", 9), 0xAE8B14860A799888ull);
  EXPECT_EQ(crc32c(0, "", 0), 0u);
  EXPECT_EQ(crc64nvme(0, "", 0), 0u);
  // RFC 3720 (iSCSI) B.4: 32 bytes of zeros, of 0xff.
  EXPECT_EQ(crc32c(0, std::string(32, '\0').data(), 32), 0x8A9136AAu);
  EXPECT_EQ(crc32c(0, std::string(32, '\xff').data(), 32), 0x62A8AB43u);
}

TEST(Crc, PiecewiseEqualsWhole) {
  // The slicing loop and the byte tail must agree at every split (unaligned starts included).
  std::string data = pattern(1000);
  uint32_t whole32 = crc32c(0, data.data(), data.size());
  uint64_t whole64 = crc64nvme(0, data.data(), data.size());
  for (size_t cut : {0, 1, 7, 8, 9, 500, 999, 1000}) {
    EXPECT_EQ(crc32c(crc32c(0, data.data(), cut), data.data() + cut, data.size() - cut), whole32) << cut;
    EXPECT_EQ(crc64nvme(crc64nvme(0, data.data(), cut), data.data() + cut, data.size() - cut), whole64) << cut;
  }
  // Against a plain bit-at-a-time CRC (the definition) over a longer buffer.
  std::string big = pattern(100003);
  EXPECT_EQ(crc32c(0, big.data(), big.size()), 0x8e46f9a6u);
  EXPECT_EQ(crc64nvme(0, big.data(), big.size()), 0x3283468038183c5full);
}

TEST(S3Checksum, AlgorithmsAsS3EncodesThem) {
  // Base64 of the big-endian CRC / the SHA digest, as in x-amz-checksum-* (values from
  // zlib, hashlib and the CRCs above).
  EXPECT_EQ(base64_encode(compute_checksum(ChecksumAlgorithm::CRC32, "123456789")), "y/Q5Jg==");
  EXPECT_EQ(base64_encode(compute_checksum(ChecksumAlgorithm::CRC32C, "123456789")), "4waSgw==");
  EXPECT_EQ(base64_encode(compute_checksum(ChecksumAlgorithm::CRC64NVME, "123456789")), "rosUhgp5mIg=");
  EXPECT_EQ(hex_encode(compute_checksum(ChecksumAlgorithm::SHA1, "123456789")), "f7c3bc1d808e04732adf679965ccc34ca7ae3441");
  EXPECT_EQ(hex_encode(compute_checksum(ChecksumAlgorithm::SHA256, "123456789")),
            "15e2b0d3c33891ebb0f1ef609ec419420c20e320ce94c65fbc8c3312448eb225");
  EXPECT_EQ(base64_encode(compute_checksum(ChecksumAlgorithm::CRC32, "hello world")), "DUoRhQ==");
  for (ChecksumAlgorithm a : kChecksumAlgorithms) {
    EXPECT_EQ(compute_checksum(a, "x").size(), checksum_size(a));
    EXPECT_EQ(checksum_algorithm(checksum_name(a)), a);
    // In pieces as in one go.
    std::string data = pattern(70000);
    Checksummer c(a);
    c.update(std::string_view(data).substr(0, 12345));
    c.update(std::string_view(data).substr(12345));
    EXPECT_EQ(c.digest(), compute_checksum(a, data)) << checksum_name(a);
  }
  EXPECT_EQ(checksum_algorithm("crc64nvme"), ChecksumAlgorithm::CRC64NVME);  // x-amz-trailer names are lowercase
  EXPECT_FALSE(checksum_algorithm("SHA512"));
  EXPECT_FALSE(checksum_algorithm("CRC3"));
}

TEST(S3Checksum, CompositeIsTheChecksumOfPartChecksums) {
  std::string a = pattern(100), b = "tail";
  std::string da = compute_checksum(ChecksumAlgorithm::SHA256, a), db = compute_checksum(ChecksumAlgorithm::SHA256, b);
  EXPECT_EQ(composite_checksum(ChecksumAlgorithm::SHA256, {base64_encode(da), base64_encode(db)}),
            base64_encode(compute_checksum(ChecksumAlgorithm::SHA256, da + db)) + "-2");
  // S3's own example (3 parts whose SHA-256 values UploadPart returned, and the composite
  // CompleteMultipartUpload answered).
  EXPECT_EQ(composite_checksum(ChecksumAlgorithm::SHA256, {"lcKa6Boe7a167tUCN5C4OaFygGSYD8MBnBARTrdL+1w=",
                                                           "gHjhbUT4oo2tSCtSZJdlKi+jeNXJT+VImqdPXsXvkOc=",
                                                           "4l9PQ3zOPZ0oGFvknFX+J4zZwE4WMzO+l3r8XrbWOeM="}),
            "rVWtNbadtsaKXJAcgWPWjifHzJaXde/iV4jaJAOdivc=-3");
}

TEST(S3ChecksumRecords, RoundTripAndOlderRecords) {
  ObjectRecord o;
  o.size = 3;
  o.etag = "abc";
  o.file = "f";
  o.checksum = StoredChecksum{"CRC32", "DUoRhQ==", "FULL_OBJECT"};
  // Without a data key (a checksum still follows) and with one.
  for (std::string sse : {std::string(), std::string(77, 'k')}) {
    o.sse = sse;
    auto back = ObjectStore::decode_object("key", ObjectStore::encode(o));
    ASSERT_TRUE(back);
    EXPECT_EQ(back->sse, sse);
    EXPECT_EQ(back->checksum.algorithm, "CRC32");
    EXPECT_EQ(back->checksum.value, "DUoRhQ==");
    EXPECT_EQ(back->checksum.type, "FULL_OBJECT");
  }
  // Records written before checksums (with or without a data key) decode without one.
  o.checksum = {};
  for (std::string sse : {std::string(), std::string(77, 'k')}) {
    o.sse = sse;
    auto back = ObjectStore::decode_object("key", ObjectStore::encode(o));
    ASSERT_TRUE(back);
    EXPECT_TRUE(back->checksum.empty());
    EXPECT_EQ(back->sse, sse);
  }
}

class ChecksumMultipartTest : public S3StoreFixture {
 protected:
  void SetUp() override { set_up("vigil-s3ck", "bucket", "111111111111"); }
  UploadRecord start(const std::string& algorithm, const std::string& type) {
    UploadRecord u;
    u.bucket = "bucket";
    u.key = "k";
    u.owner_account = "111111111111";
    u.initiator_arn = "arn:aws:iam::111111111111:root";
    u.initiated = 100;
    if (!algorithm.empty()) u.meta.checksum = StoredChecksum{algorithm, {}, type};
    return uploads_->create(u);
  }
  StoredChecksum part_checksum(ChecksumAlgorithm a, const std::string& data) {
    return StoredChecksum{std::string(checksum_name(a)), base64_encode(compute_checksum(a, data)), {}};
  }
};

TEST_F(ChecksumMultipartTest, CompositeNeedsEachPartsChecksum) {
  UploadRecord u = start("SHA256", "COMPOSITE");
  ASSERT_EQ(uploads_->find("bucket", "k", u.upload_id)->meta.checksum.type, "COMPOSITE");  // kept in the upload record
  std::string p1(kMinPartSize, 'a'), p2 = "tail";
  PartRecord r1 = uploads_->put_part(u, 1, p1, 101, part_checksum(ChecksumAlgorithm::SHA256, p1));
  PartRecord r2 = uploads_->put_part(u, 2, p2, 102, part_checksum(ChecksumAlgorithm::SHA256, p2));
  auto listed = uploads_->list_parts(u, 0, 10);
  ASSERT_EQ(listed.parts.size(), 2u);
  EXPECT_EQ(listed.parts[1].checksum.value, r2.checksum.value);
  CompletedPart c1{1, r1.etag, r1.checksum}, c2{2, r2.etag, r2.checksum};
  EXPECT_EQ(error_code([&] { uploads_->complete(u, {c1, {2, r2.etag, {}}}, 110); }), "InvalidRequest");
  EXPECT_EQ(error_code([&] { uploads_->complete(u, {c1, {2, r2.etag, r1.checksum}}, 110); }), "InvalidPart");
  EXPECT_EQ(error_code([&] { uploads_->complete(u, {c1, c2}, 110, StoredChecksum{"SHA256", "AAAA", {}}); }), "BadDigest");
  ObjectRecord o = uploads_->complete(u, {c1, c2}, 110);
  EXPECT_EQ(o.checksum.type, "COMPOSITE");
  EXPECT_EQ(o.checksum.value, composite_checksum(ChecksumAlgorithm::SHA256, {r1.checksum.value, r2.checksum.value}));
  EXPECT_EQ(objects_->head("bucket", "k")->checksum.value, o.checksum.value);
}

TEST_F(ChecksumMultipartTest, FullObjectCrcIsOverTheWholeObject) {
  UploadRecord u = start("CRC32C", "FULL_OBJECT");
  std::string p1(kMinPartSize, 'b'), p2 = "end";
  PartRecord r1 = uploads_->put_part(u, 1, p1, 101, part_checksum(ChecksumAlgorithm::CRC32C, p1));
  PartRecord r2 = uploads_->put_part(u, 2, p2, 102, part_checksum(ChecksumAlgorithm::CRC32C, p2));
  std::string whole = base64_encode(compute_checksum(ChecksumAlgorithm::CRC32C, p1 + p2));
  // Part checksums are optional in a full-object completion; a wrong full-object value is not.
  EXPECT_EQ(error_code([&] { uploads_->complete(u, {{1, r1.etag, {}}, {2, r2.etag, {}}}, 110, StoredChecksum{"CRC32C", "AAAAAA==", {}}); }),
            "BadDigest");
  ObjectRecord o = uploads_->complete(u, {{1, r1.etag, {}}, {2, r2.etag, {}}}, 110, StoredChecksum{"CRC32C", whole, {}});
  EXPECT_EQ(o.checksum.algorithm, "CRC32C");
  EXPECT_EQ(o.checksum.type, "FULL_OBJECT");
  EXPECT_EQ(o.checksum.value, whole);
}

TEST_F(ChecksumMultipartTest, WithoutAnAlgorithmTheObjectGetsCrc64Nvme) {
  UploadRecord u = start("", "");
  std::string data = "only part";
  PartRecord r = uploads_->put_part(u, 1, data, 101);
  EXPECT_TRUE(r.checksum.empty());
  ObjectRecord o = uploads_->complete(u, {{1, r.etag, {}}}, 110);
  EXPECT_EQ(o.checksum.algorithm, "CRC64NVME");
  EXPECT_EQ(o.checksum.type, "FULL_OBJECT");
  EXPECT_EQ(o.checksum.value, base64_encode(compute_checksum(ChecksumAlgorithm::CRC64NVME, data)));
}

TEST_F(ChecksumMultipartTest, CopiesComputeTheirChecksum) {
  ObjectRecord meta;
  ObjectRecord src = objects_->put("bucket", "src", "copied bytes", meta, 100);
  ObjectRecord copy = objects_->copy("bucket", "dst", src, ObjectRecord{}, 101, ChecksumAlgorithm::SHA1);
  EXPECT_EQ(copy.checksum.value, base64_encode(compute_checksum(ChecksumAlgorithm::SHA1, "copied bytes")));
  UploadRecord u = start("CRC32", "COMPOSITE");
  PartRecord p = uploads_->copy_part(u, 1, src, 7, 5, 102);
  EXPECT_EQ(p.checksum.algorithm, "CRC32");
  EXPECT_EQ(p.checksum.value, base64_encode(compute_checksum(ChecksumAlgorithm::CRC32, "bytes")));
}

// ---- aws-chunked trailers --------------------------------------------------------------------

constexpr std::string_view kKey = "0123456789abcdef0123456789abcdef";
constexpr std::string_view kDate = "20260101T000000Z";
constexpr std::string_view kScope = "20260101/us-east-1/s3/aws4_request";
constexpr std::string_view kSeed = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9";

// A signed body of `chunks` with the final chunk's signature in `final_signature`.
std::string signed_body(const std::vector<std::string>& chunks, std::string& final_signature) {
  std::string body, previous(kSeed);
  for (const auto& c : chunks) {
    std::string sig = auth::chunk_signature(kKey, kDate, kScope, previous, c);
    char size[32];
    std::snprintf(size, sizeof size, "%zx", c.size());
    body += std::string(size) + ";chunk-signature=" + sig + "\r\n" + c + "\r\n";
    previous = sig;
  }
  final_signature = auth::chunk_signature(kKey, kDate, kScope, previous, "");
  return body + "0;chunk-signature=" + final_signature + "\r\n";
}

TEST(AwsChunkedTrailers, UnsignedTrailersAreParsed) {
  std::vector<Trailer> trailers;
  std::string body = "5\r\nhello\r\n6\r\n world\r\n0\r\nX-Amz-Checksum-CRC32: DUoRhQ==\r\n\r\n";
  EXPECT_EQ(decode_aws_chunked(body, std::nullopt, &trailers), "hello world");
  ASSERT_EQ(trailers.size(), 1u);
  EXPECT_EQ(trailers[0].first, "x-amz-checksum-crc32");
  EXPECT_EQ(trailers[0].second, "DUoRhQ==");
  // Fed a byte at a time: the same.
  AwsChunkedDecoder d(std::nullopt);
  std::string out;
  for (char c : body) d.feed(std::string_view(&c, 1), [&](std::string_view p) { out.append(p); });
  d.finish();
  EXPECT_TRUE(d.done());
  EXPECT_EQ(out, "hello world");
  ASSERT_EQ(d.trailers().size(), 1u);
  EXPECT_EQ(d.trailers()[0].second, "DUoRhQ==");
  // Ending after the final chunk or after a complete trailer line (no blank line) is accepted.
  EXPECT_EQ(decode_aws_chunked("5\r\nhello\r\n0\r\n", std::nullopt, &trailers), "hello");
  EXPECT_TRUE(trailers.empty());
  EXPECT_EQ(decode_aws_chunked("5\r\nhello\r\n0\r\nx-amz-checksum-crc32:AAAAAA==\r\n", std::nullopt, &trailers), "hello");
  EXPECT_EQ(trailers.size(), 1u);
}

TEST(AwsChunkedTrailers, MalformedTrailers) {
  EXPECT_EQ(error_code([] { decode_aws_chunked("5\r\nhello\r\n0\r\nno colon here\r\n\r\n", std::nullopt); }), "MalformedTrailerError");
  EXPECT_EQ(error_code([] { decode_aws_chunked("5\r\nhello\r\n0\r\nx-amz-checksum-crc32:AAA", std::nullopt); }), "MalformedTrailerError");
  std::string huge = "0\r\nx-amz-meta:" + std::string(AwsChunkedDecoder::kMaxTrailerBytes, 'a') + "\r\n\r\n";
  EXPECT_EQ(error_code([&] { decode_aws_chunked(huge, std::nullopt); }), "MalformedTrailerError");
  EXPECT_EQ(error_code([] { decode_aws_chunked("5\r\nhello\r\n", std::nullopt); }), "IncompleteBody");
}

TEST(AwsChunkedTrailers, SignedTrailerIsVerified) {
  std::string final_sig;
  std::string body = signed_body({"hello ", "world"}, final_sig);
  std::string trailer = "x-amz-checksum-crc32:DUoRhQ==";
  std::string trailer_sig = auth::trailer_signature(kKey, kDate, kScope, final_sig, trailer + "\n");
  ChunkSigner signer{kKey, kDate, kScope, kSeed, true};
  std::vector<Trailer> trailers;
  std::string good = body + trailer + "\r\nx-amz-trailer-signature:" + trailer_sig + "\r\n\r\n";
  EXPECT_EQ(decode_aws_chunked(good, signer, &trailers), "hello world");
  ASSERT_EQ(trailers.size(), 1u);  // the signature is not a trailer of the object
  EXPECT_EQ(trailers[0].second, "DUoRhQ==");
  // Split anywhere, the same.
  for (size_t cut = 1; cut < good.size(); cut += 7) {
    AwsChunkedDecoder d(signer);
    std::string out;
    d.feed(std::string_view(good).substr(0, cut), [&](std::string_view p) { out.append(p); });
    d.feed(std::string_view(good).substr(cut), [&](std::string_view p) { out.append(p); });
    d.finish();
    EXPECT_EQ(out, "hello world") << cut;
  }
  // The checksum swapped, the signature wrong or missing: refused.
  std::string swapped = body + "x-amz-checksum-crc32:AAAAAA==\r\nx-amz-trailer-signature:" + trailer_sig + "\r\n\r\n";
  EXPECT_EQ(error_code([&] { decode_aws_chunked(swapped, signer); }), "SignatureDoesNotMatch");
  std::string wrong = body + trailer + "\r\nx-amz-trailer-signature:" + std::string(64, '0') + "\r\n\r\n";
  EXPECT_EQ(error_code([&] { decode_aws_chunked(wrong, signer); }), "SignatureDoesNotMatch");
  std::string unsigned_trailer = body + trailer + "\r\n\r\n";
  EXPECT_EQ(error_code([&] { decode_aws_chunked(unsigned_trailer, signer); }), "SignatureDoesNotMatch");
  // Without the closing blank line the signature is still checked (at finish()).
  std::string no_blank = body + trailer + "\r\nx-amz-trailer-signature:" + std::string(64, '0') + "\r\n";
  EXPECT_EQ(error_code([&] { decode_aws_chunked(no_blank, signer); }), "SignatureDoesNotMatch");
  // A signed body without trailers (STREAMING-AWS4-HMAC-SHA256-PAYLOAD) needs none.
  EXPECT_EQ(decode_aws_chunked(body + "\r\n", ChunkSigner{kKey, kDate, kScope, kSeed}), "hello world");
}

}  // namespace
}  // namespace vigil::s3
