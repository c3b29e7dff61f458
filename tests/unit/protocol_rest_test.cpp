// rest-xml (S3) and rest-json. Requests were captured from botocore 1.43 (RestXMLSerializer /
// RestJSONSerializer) against the S3 model and a small rest-json model; every response below
// was parsed by its RestXMLParser / RestJSONParser (through a real client for S3) into the
// expected result or ClientError code.
#include <gtest/gtest.h>


#include "protocol/codec.h"
#include "protocol/rest_codec.h"
#include "protocol/schema.h"

namespace vigil::protocol {
namespace {

using Headers = std::vector<std::pair<std::string, std::string>>;

Value M(std::initializer_list<std::pair<std::string, Value>> items) {
  Value v = Value::map();
  for (const auto& [k, item] : items) v.as_map().emplace_back(k, item);
  return v;
}

Value L(std::initializer_list<Value> items) {
  Value v = Value::list();
  for (const auto& item : items) v.as_list().push_back(item);
  return v;
}

HttpRequest req(std::string method, std::string path, std::string query = "", Headers headers = {}, std::string body = "") {
  HttpRequest r;
  r.method = std::move(method);
  r.path = std::move(path);
  r.query = std::move(query);
  r.headers = std::move(headers);
  r.body = std::move(body);
  return r;
}

std::string header(const HttpResponse& r, std::string_view name) {
  for (const auto& [k, v] : r.headers)
    if (k == name) return v;
  return "<absent>";
}

class S3CodecTest : public ::testing::Test {
 protected:
  // The models the server itself embeds (schema/*.json, compiled in).
  static void SetUpTestSuite() { model_ = embedded_model("s3"); }

  std::pair<std::string, Value> decode(const HttpRequest& r) {
    const Operation& op = codec_.resolve_operation(r);
    return {op.name, codec_.decode_request(r, op)};
  }

  AwsError error_of(const HttpRequest& r) {
    try {
      decode(r);
    } catch (const AwsError& e) {
      return e;
    }
    ADD_FAILURE() << "no error for " << r.method << " " << r.path << "?" << r.query;
    return AwsError("none", "none");
  }

  HttpResponse encode(const std::string& op, const Value& output) {
    HttpResponse r;
    codec_.encode_response(output, *model_->operation(op), {"req-123"}, r);
    return r;
  }

  static const ServiceModel* model_;
  RestCodec codec_{*model_, "rest-xml"};
};

const ServiceModel* S3CodecTest::model_ = nullptr;

// ---- routing -------------------------------------------------------------------------------

struct RouteCase {
  const char* operation;
  const char* method;
  const char* path;
  const char* query;
  Headers headers;
};

// Every S3 operation, as botocore sends it with its required members filled in.
const RouteCase kS3Routes[] = {
    {"AbortMultipartUpload", "DELETE", "/bkt/dir/key.txt", "uploadId=x1", {}},
    {"CompleteMultipartUpload", "POST", "/bkt/dir/key.txt", "uploadId=x1", {}},
    {"CopyObject", "PUT", "/bkt/dir/key.txt", "", {{"x-amz-copy-source", "src/obj"}}},
    {"CreateBucket", "PUT", "/bkt", "", {}},
    {"CreateBucketMetadataConfiguration", "POST", "/bkt", "metadataConfiguration", {}},
    {"CreateBucketMetadataTableConfiguration", "POST", "/bkt", "metadataTable", {}},
    {"CreateMultipartUpload", "POST", "/bkt/dir/key.txt", "uploads", {}},
    {"CreateSession", "GET", "/bkt", "session", {}},
    {"DeleteBucket", "DELETE", "/bkt", "", {}},
    {"DeleteBucketAnalyticsConfiguration", "DELETE", "/bkt", "analytics&id=x1", {}},
    {"DeleteBucketCors", "DELETE", "/bkt", "cors", {}},
    {"DeleteBucketEncryption", "DELETE", "/bkt", "encryption", {}},
    {"DeleteBucketIntelligentTieringConfiguration", "DELETE", "/bkt", "intelligent-tiering&id=x1", {}},
    {"DeleteBucketInventoryConfiguration", "DELETE", "/bkt", "inventory&id=x1", {}},
    {"DeleteBucketLifecycle", "DELETE", "/bkt", "lifecycle", {}},
    {"DeleteBucketMetadataConfiguration", "DELETE", "/bkt", "metadataConfiguration", {}},
    {"DeleteBucketMetadataTableConfiguration", "DELETE", "/bkt", "metadataTable", {}},
    {"DeleteBucketMetricsConfiguration", "DELETE", "/bkt", "metrics&id=x1", {}},
    {"DeleteBucketOwnershipControls", "DELETE", "/bkt", "ownershipControls", {}},
    {"DeleteBucketPolicy", "DELETE", "/bkt", "policy", {}},
    {"DeleteBucketReplication", "DELETE", "/bkt", "replication", {}},
    {"DeleteBucketTagging", "DELETE", "/bkt", "tagging", {}},
    {"DeleteBucketWebsite", "DELETE", "/bkt", "website", {}},
    {"DeleteObject", "DELETE", "/bkt/dir/key.txt", "", {}},
    {"DeleteObjectTagging", "DELETE", "/bkt/dir/key.txt", "tagging", {}},
    {"DeleteObjects", "POST", "/bkt", "delete", {}},
    {"DeletePublicAccessBlock", "DELETE", "/bkt", "publicAccessBlock", {}},
    {"GetBucketAbac", "GET", "/bkt", "abac", {}},
    {"GetBucketAccelerateConfiguration", "GET", "/bkt", "accelerate", {}},
    {"GetBucketAcl", "GET", "/bkt", "acl", {}},
    {"GetBucketAnalyticsConfiguration", "GET", "/bkt", "analytics&id=x1", {}},
    {"GetBucketCors", "GET", "/bkt", "cors", {}},
    {"GetBucketEncryption", "GET", "/bkt", "encryption", {}},
    {"GetBucketIntelligentTieringConfiguration", "GET", "/bkt", "intelligent-tiering&id=x1", {}},
    {"GetBucketInventoryConfiguration", "GET", "/bkt", "inventory&id=x1", {}},
    {"GetBucketLifecycle", "GET", "/bkt", "lifecycle", {}},
    {"GetBucketLifecycleConfiguration", "GET", "/bkt", "lifecycle", {}},
    {"GetBucketLocation", "GET", "/bkt", "location", {}},
    {"GetBucketLogging", "GET", "/bkt", "logging", {}},
    {"GetBucketMetadataConfiguration", "GET", "/bkt", "metadataConfiguration", {}},
    {"GetBucketMetadataTableConfiguration", "GET", "/bkt", "metadataTable", {}},
    {"GetBucketMetricsConfiguration", "GET", "/bkt", "metrics&id=x1", {}},
    {"GetBucketNotification", "GET", "/bkt", "notification", {}},
    {"GetBucketNotificationConfiguration", "GET", "/bkt", "notification", {}},
    {"GetBucketOwnershipControls", "GET", "/bkt", "ownershipControls", {}},
    {"GetBucketPolicy", "GET", "/bkt", "policy", {}},
    {"GetBucketPolicyStatus", "GET", "/bkt", "policyStatus", {}},
    {"GetBucketReplication", "GET", "/bkt", "replication", {}},
    {"GetBucketRequestPayment", "GET", "/bkt", "requestPayment", {}},
    {"GetBucketTagging", "GET", "/bkt", "tagging", {}},
    {"GetBucketVersioning", "GET", "/bkt", "versioning", {}},
    {"GetBucketWebsite", "GET", "/bkt", "website", {}},
    {"GetObject", "GET", "/bkt/dir/key.txt", "", {}},
    {"GetObjectAcl", "GET", "/bkt/dir/key.txt", "acl", {}},
    {"GetObjectAttributes", "GET", "/bkt/dir/key.txt", "attributes", {{"x-amz-object-attributes", "ETag"}}},
    {"GetObjectLegalHold", "GET", "/bkt/dir/key.txt", "legal-hold", {}},
    {"GetObjectLockConfiguration", "GET", "/bkt", "object-lock", {}},
    {"GetObjectRetention", "GET", "/bkt/dir/key.txt", "retention", {}},
    {"GetObjectTagging", "GET", "/bkt/dir/key.txt", "tagging", {}},
    {"GetObjectTorrent", "GET", "/bkt/dir/key.txt", "torrent", {}},
    {"GetPublicAccessBlock", "GET", "/bkt", "publicAccessBlock", {}},
    {"HeadBucket", "HEAD", "/bkt", "", {}},
    {"HeadObject", "HEAD", "/bkt/dir/key.txt", "", {}},
    {"ListBucketAnalyticsConfigurations", "GET", "/bkt", "analytics", {}},
    {"ListBucketIntelligentTieringConfigurations", "GET", "/bkt", "intelligent-tiering", {}},
    {"ListBucketInventoryConfigurations", "GET", "/bkt", "inventory", {}},
    {"ListBucketMetricsConfigurations", "GET", "/bkt", "metrics", {}},
    {"ListBuckets", "GET", "/", "", {}},
    {"ListDirectoryBuckets", "GET", "/", "", {}},
    {"ListMultipartUploads", "GET", "/bkt", "uploads", {}},
    {"ListObjectVersions", "GET", "/bkt", "versions&encoding-type=url", {}},
    {"ListObjects", "GET", "/bkt", "encoding-type=url", {}},
    {"ListObjectsV2", "GET", "/bkt", "list-type=2&encoding-type=url", {}},
    {"ListParts", "GET", "/bkt/dir/key.txt", "uploadId=x1", {}},
    {"PutBucketAbac", "PUT", "/bkt", "abac", {}},
    {"PutBucketAccelerateConfiguration", "PUT", "/bkt", "accelerate", {}},
    {"PutBucketAcl", "PUT", "/bkt", "acl", {}},
    {"PutBucketAnalyticsConfiguration", "PUT", "/bkt", "analytics&id=x1", {}},
    {"PutBucketCors", "PUT", "/bkt", "cors", {}},
    {"PutBucketEncryption", "PUT", "/bkt", "encryption", {}},
    {"PutBucketIntelligentTieringConfiguration", "PUT", "/bkt", "intelligent-tiering&id=x1", {}},
    {"PutBucketInventoryConfiguration", "PUT", "/bkt", "inventory&id=x1", {}},
    {"PutBucketLifecycle", "PUT", "/bkt", "lifecycle", {}},
    {"PutBucketLifecycleConfiguration", "PUT", "/bkt", "lifecycle", {}},
    {"PutBucketLogging", "PUT", "/bkt", "logging", {}},
    {"PutBucketMetricsConfiguration", "PUT", "/bkt", "metrics&id=x1", {}},
    {"PutBucketNotification", "PUT", "/bkt", "notification", {}},
    {"PutBucketNotificationConfiguration", "PUT", "/bkt", "notification", {}},
    {"PutBucketOwnershipControls", "PUT", "/bkt", "ownershipControls", {}},
    {"PutBucketPolicy", "PUT", "/bkt", "policy", {}},
    {"PutBucketReplication", "PUT", "/bkt", "replication", {}},
    {"PutBucketRequestPayment", "PUT", "/bkt", "requestPayment", {}},
    {"PutBucketTagging", "PUT", "/bkt", "tagging", {}},
    {"PutBucketVersioning", "PUT", "/bkt", "versioning", {}},
    {"PutBucketWebsite", "PUT", "/bkt", "website", {}},
    {"PutObject", "PUT", "/bkt/dir/key.txt", "", {}},
    {"PutObjectAcl", "PUT", "/bkt/dir/key.txt", "acl", {}},
    {"PutObjectLegalHold", "PUT", "/bkt/dir/key.txt", "legal-hold", {}},
    {"PutObjectLockConfiguration", "PUT", "/bkt", "object-lock", {}},
    {"PutObjectRetention", "PUT", "/bkt/dir/key.txt", "retention", {}},
    {"PutObjectTagging", "PUT", "/bkt/dir/key.txt", "tagging", {}},
    {"PutPublicAccessBlock", "PUT", "/bkt", "publicAccessBlock", {}},
    {"RenameObject", "PUT", "/bkt/dir/key.txt", "renameObject", {{"x-amz-rename-source", "x1"}, {"x-amz-client-token", "5a609f53-5556-408f-b755-2188a915537d"}}},
    {"RestoreObject", "POST", "/bkt/dir/key.txt", "restore", {}},
    {"SelectObjectContent", "POST", "/bkt/dir/key.txt", "select&select-type=2", {}},
    {"UpdateBucketMetadataInventoryTableConfiguration", "PUT", "/bkt", "metadataInventoryTable", {}},
    {"UpdateBucketMetadataJournalTableConfiguration", "PUT", "/bkt", "metadataJournalTable", {}},
    {"UpdateObjectEncryption", "PUT", "/bkt/dir/key.txt", "encryption", {}},
    {"UploadPart", "PUT", "/bkt/dir/key.txt", "partNumber=1&uploadId=x1", {}},
    {"UploadPartCopy", "PUT", "/bkt/dir/key.txt", "partNumber=1&uploadId=x1", {{"x-amz-copy-source", "src/obj"}}},
    {"WriteGetObjectResponse", "POST", "/WriteGetObjectResponse", "", {{"x-amz-request-route", "x1"}, {"x-amz-request-token", "x1"}}},
};

TEST_F(S3CodecTest, RoutesEveryOperationAsBotocoreSendsIt) {
  // Deprecated aliases share their successor's request exactly; the successor wins.
  auto expected = [](std::string op) {
    if (op == "GetBucketLifecycle" || op == "PutBucketLifecycle" || op == "GetBucketNotification" || op == "PutBucketNotification")
      return op + "Configuration";
    if (op == "ListDirectoryBuckets") return std::string("ListBuckets");
    return op;
  };
  size_t count = 0;
  for (const auto& c : kS3Routes) {
    HttpRequest r = req(c.method, c.path, c.query, c.headers);
    EXPECT_EQ(codec_.resolve_operation(r).name, expected(c.operation)) << c.method << " " << c.path << "?" << c.query;
    ++count;
  }
  EXPECT_EQ(count, model_->operations.size());
}

TEST_F(S3CodecTest, PicksTheMostSpecificOperation) {
  EXPECT_EQ(codec_.resolve_operation(req("GET", "/b", "location")).name, "GetBucketLocation");
  EXPECT_EQ(codec_.resolve_operation(req("GET", "/b", "list-type=2&prefix=a")).name, "ListObjectsV2");
  EXPECT_EQ(codec_.resolve_operation(req("GET", "/b", "list-type=1")).name, "ListObjects");
  EXPECT_EQ(codec_.resolve_operation(req("GET", "/b")).name, "ListObjects");
  EXPECT_EQ(codec_.resolve_operation(req("GET", "/b/")).name, "ListObjects");
  EXPECT_EQ(codec_.resolve_operation(req("GET", "/b/k")).name, "GetObject");
  EXPECT_EQ(codec_.resolve_operation(req("GET", "/b/k/")).name, "GetObject");  // the key is "k/"
  EXPECT_EQ(codec_.resolve_operation(req("GET", "/b/k", "uploadId=u")).name, "ListParts");
  EXPECT_EQ(codec_.resolve_operation(req("POST", "/b/k", "uploads")).name, "CreateMultipartUpload");
  EXPECT_EQ(codec_.resolve_operation(req("POST", "/b/k", "uploadId=u")).name, "CompleteMultipartUpload");
  EXPECT_EQ(codec_.resolve_operation(req("PUT", "/b/k")).name, "PutObject");
  EXPECT_EQ(codec_.resolve_operation(req("PUT", "/b/k", "", {{"x-amz-copy-source", "s/o"}})).name, "CopyObject");
  EXPECT_EQ(codec_.resolve_operation(req("PUT", "/b/k", "partNumber=1&uploadId=u")).name, "UploadPart");
  EXPECT_EQ(codec_.resolve_operation(req("PUT", "/b/k", "partNumber=1&uploadId=u", {{"x-amz-copy-source", "s/o"}})).name, "UploadPartCopy");
  EXPECT_EQ(codec_.resolve_operation(req("DELETE", "/b/k", "uploadId=u")).name, "AbortMultipartUpload");
  EXPECT_EQ(codec_.resolve_operation(req("DELETE", "/b/k", "versionId=v")).name, "DeleteObject");
  EXPECT_EQ(codec_.resolve_operation(req("GET", "/b", "analytics")).name, "ListBucketAnalyticsConfigurations");
  EXPECT_EQ(codec_.resolve_operation(req("GET", "/b", "analytics&id=x")).name, "GetBucketAnalyticsConfiguration");
  EXPECT_EQ(codec_.resolve_operation(req("POST", "/b/k", "select&select-type=2")).name, "SelectObjectContent");
  EXPECT_EQ(codec_.resolve_operation(req("HEAD", "/b")).name, "HeadBucket");
  EXPECT_EQ(codec_.resolve_operation(req("HEAD", "/b/a/b/c")).name, "HeadObject");
  EXPECT_EQ(codec_.resolve_operation(req("GET", "/")).name, "ListBuckets");
}

TEST_F(S3CodecTest, UnroutableRequests) {
  AwsError e = error_of(req("PATCH", "/b/k"));
  EXPECT_EQ(e.code(), "MethodNotAllowed");
  EXPECT_EQ(e.http_status(), 405);
  EXPECT_EQ(error_of(req("POST", "/b")).code(), "MethodNotAllowed");
  EXPECT_EQ(error_of(req("DELETE", "/")).code(), "MethodNotAllowed");
}

TEST_F(S3CodecTest, VirtualHostedBucketsByOption) {
  RestOptions options = default_rest_options(*model_);
  options.virtual_host_suffixes = {"s3.localhost", "localhost"};
  RestCodec vh(*model_, "rest-xml", options);
  HttpRequest r = req("GET", "/dir/key.txt", "", {{"host", "my.bucket.s3.localhost:4566"}});
  const Operation& op = vh.resolve_operation(r);
  EXPECT_EQ(op.name, "GetObject");
  EXPECT_EQ(vh.decode_request(r, op), M({{"Bucket", "my.bucket"}, {"Key", "dir/key.txt"}}));
  HttpRequest list = req("GET", "/", "list-type=2", {{"host", "logs.localhost"}});
  EXPECT_EQ(vh.resolve_operation(list).name, "ListObjectsV2");
  EXPECT_EQ(vh.decode_request(list, vh.resolve_operation(list)), M({{"Bucket", "logs"}}));
  // Path style still works on the bare host, and an empty list turns virtual hosts off.
  EXPECT_EQ(vh.resolve_operation(req("GET", "/", "", {{"host", "localhost:4566"}})).name, "ListBuckets");
  options.virtual_host_suffixes.clear();
  RestCodec path_only(*model_, "rest-xml", options);
  EXPECT_EQ(path_only.resolve_operation(req("GET", "/", "", {{"host", "b.s3.localhost"}})).name, "ListBuckets");
  // S3's defaults serve local names and AWS's endpoint names.
  EXPECT_EQ(codec_.resolve_operation(req("GET", "/", "", {{"host", "b.s3.localhost"}})).name, "ListObjects");
  EXPECT_EQ(codec_.resolve_operation(req("GET", "/", "", {{"host", "s3.localhost"}})).name, "ListBuckets");
}

TEST(S3VirtualHost, BucketFromHost) {
  auto defaults = default_s3_virtual_host_suffixes();
  auto bucket = [&](std::string_view host) { return virtual_host_bucket(host, defaults).value_or("<path>"); };
  EXPECT_EQ(bucket("mybucket.localhost:4566"), "mybucket");
  EXPECT_EQ(bucket("mybucket.s3.localhost:4566"), "mybucket");
  EXPECT_EQ(bucket("my.dotted.bucket.localhost"), "my.dotted.bucket");
  EXPECT_EQ(bucket("mybucket.s3.amazonaws.com"), "mybucket");
  EXPECT_EQ(bucket("mybucket.s3.eu-west-1.amazonaws.com"), "mybucket");
  EXPECT_EQ(bucket("mybucket.s3-eu-west-1.amazonaws.com"), "mybucket");
  EXPECT_EQ(bucket("mybucket.s3.dualstack.us-east-2.amazonaws.com"), "mybucket");
  EXPECT_EQ(bucket("MyBucket.S3.LOCALHOST."), "MyBucket");  // host names are case-insensitive; the bucket is as sent
  for (const char* path_style : {"localhost", "localhost:4566", "s3.localhost", "s3.amazonaws.com", "s3.us-west-2.amazonaws.com",
                                 "s3-us-west-2.amazonaws.com", "127.0.0.1:4566", "[::1]:4566", "10.0.0.1", "example.com",
                                 "b.example.com", "b.s3.example.com", "", ".localhost"})
    EXPECT_EQ(bucket(path_style), "<path>") << path_style;
  EXPECT_EQ(virtual_host_bucket("b.s3.example.internal", {"s3.example.internal"}).value_or("<path>"), "b");
  EXPECT_FALSE(virtual_host_bucket("b.localhost", {}));
}

// ---- requests ------------------------------------------------------------------------------

TEST_F(S3CodecTest, PutObjectWithMetadataHeaders) {
  auto [op, v] = decode(req("PUT", "/my-bucket/dir/a%20b%2Bc.txt", "",
                            {{"content-type", "text/plain"},
                             {"x-amz-meta-owner", "me"},
                             {"x-amz-meta-x", "1"},
                             {"expires", "Fri, 02 Jan 2026 03:04:05 GMT"},
                             {"x-amz-storage-class", "STANDARD_IA"},
                             {"x-amz-tagging", "a=b"},
                             {"x-amz-object-lock-retain-until-date", "2026-01-02T03:04:05Z"},
                             {"x-amz-checksum-crc32", "NhCmhg=="},
                             {"x-amz-sdk-checksum-algorithm", "CRC32"},
                             {"content-length", "5"}},
                            "hello"));
  EXPECT_EQ(op, "PutObject");
  EXPECT_EQ(v, M({{"Body", Blob{"hello"}},
                  {"Bucket", "my-bucket"},
                  {"ChecksumAlgorithm", "CRC32"},
                  {"ChecksumCRC32", "NhCmhg=="},
                  {"ContentLength", int64_t{5}},
                  {"ContentType", "text/plain"},
                  {"Expires", "Fri, 02 Jan 2026 03:04:05 GMT"},
                  {"Key", "dir/a b+c.txt"},
                  {"Metadata", M({{"owner", "me"}, {"x", "1"}})},
                  {"ObjectLockRetainUntilDate", Timestamp{1767323045}},
                  {"StorageClass", "STANDARD_IA"},
                  {"Tagging", "a=b"}}));
}

TEST_F(S3CodecTest, ListObjectsV2QueryParameters) {
  auto [op, v] = decode(req("GET", "/my-bucket", "list-type=2&prefix=logs%2F&delimiter=%2F&max-keys=50&start-after=logs%2Fa&fetch-owner=true&encoding-type=url"));
  EXPECT_EQ(op, "ListObjectsV2");
  EXPECT_EQ(v, M({{"Bucket", "my-bucket"},
                  {"Delimiter", "/"},
                  {"EncodingType", "url"},
                  {"FetchOwner", true},
                  {"MaxKeys", 50},
                  {"Prefix", "logs/"},
                  {"StartAfter", "logs/a"}}));
}

TEST_F(S3CodecTest, GetBucketLocationAndGetObject) {
  auto [op, v] = decode(req("GET", "/my-bucket", "location"));
  EXPECT_EQ(op, "GetBucketLocation");
  EXPECT_EQ(v, M({{"Bucket", "my-bucket"}}));
  auto [op2, v2] = decode(req("GET", "/my-bucket/k", "partNumber=2",
                              {{"range", "bytes=0-9"}, {"if-modified-since", "Fri, 02 Jan 2026 03:04:05 GMT"}, {"x-amz-checksum-mode", "ENABLED"}}));
  EXPECT_EQ(op2, "GetObject");
  EXPECT_EQ(v2, M({{"Bucket", "my-bucket"},
                   {"ChecksumMode", "ENABLED"},
                   {"IfModifiedSince", Timestamp{1767323045}},
                   {"Key", "k"},
                   {"PartNumber", 2},
                   {"Range", "bytes=0-9"}}));
}

TEST_F(S3CodecTest, DeleteObjectsXmlBody) {
  auto [op, v] = decode(req("POST", "/my-bucket", "delete", {{"x-amz-sdk-checksum-algorithm", "CRC32"}},
                            "<Delete xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Object><Key>a</Key></Object><Object><Key>b&amp;&lt;c&gt;"
                            "</Key><VersionId>v1</VersionId></Object><Quiet>true</Quiet></Delete>"));
  EXPECT_EQ(op, "DeleteObjects");
  EXPECT_EQ(v, M({{"Bucket", "my-bucket"},
                  {"ChecksumAlgorithm", "CRC32"},
                  {"Delete", M({{"Objects", L({M({{"Key", "a"}}), M({{"Key", "b&<c>"}, {"VersionId", "v1"}})})}, {"Quiet", true}})}}));
}

TEST_F(S3CodecTest, XmlBodiesWithAttributesAndLists) {
  auto [op, v] = decode(req("PUT", "/my-bucket", "acl", {},
                            "<AccessControlPolicy xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><AccessControlList><Grant><Grantee "
                            "xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:type=\"CanonicalUser\"><ID>o1</ID></Grantee><Permission>"
                            "READ</Permission></Grant></AccessControlList><Owner><ID>o1</ID></Owner></AccessControlPolicy>"));
  EXPECT_EQ(op, "PutBucketAcl");
  EXPECT_EQ(v, M({{"AccessControlPolicy", M({{"Grants", L({M({{"Grantee", M({{"ID", "o1"}, {"Type", "CanonicalUser"}})}, {"Permission", "READ"}})})},
                                             {"Owner", M({{"ID", "o1"}})}})},
                  {"Bucket", "my-bucket"}}));

  auto [op2, v2] = decode(req("POST", "/my-bucket/big/obj", "uploadId=u1", {},
                              "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Part><ETag>\"e1\"</ETag><PartNumber>1"
                              "</PartNumber></Part><Part><ETag>\"e2\"</ETag><PartNumber>2</PartNumber></Part></CompleteMultipartUpload>"));
  EXPECT_EQ(op2, "CompleteMultipartUpload");
  EXPECT_EQ(v2, M({{"Bucket", "my-bucket"},
                   {"Key", "big/obj"},
                   {"MultipartUpload", M({{"Parts", L({M({{"ETag", "\"e1\""}, {"PartNumber", 1}}), M({{"ETag", "\"e2\""}, {"PartNumber", 2}})})}})},
                   {"UploadId", "u1"}}));

  auto [op3, v3] = decode(req("PUT", "/my-bucket", "", {},
                              "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><LocationConstraint>eu-west-1"
                              "</LocationConstraint></CreateBucketConfiguration>"));
  EXPECT_EQ(op3, "CreateBucket");
  EXPECT_EQ(v3, M({{"Bucket", "my-bucket"}, {"CreateBucketConfiguration", M({{"LocationConstraint", "eu-west-1"}})}}));
}

TEST_F(S3CodecTest, HeaderListsCopySourceAndUploadPart) {
  auto [op, v] = decode(req("GET", "/my-bucket/k", "attributes", {{"x-amz-object-attributes", "ETag,ObjectSize"}}));
  EXPECT_EQ(op, "GetObjectAttributes");
  EXPECT_EQ(v, M({{"Bucket", "my-bucket"}, {"Key", "k"}, {"ObjectAttributes", L({"ETag", "ObjectSize"})}}));
  auto [op2, v2] = decode(req("PUT", "/my-bucket/dst", "", {{"x-amz-copy-source", "src/a%20b"}}));
  EXPECT_EQ(op2, "CopyObject");
  EXPECT_EQ(v2, M({{"Bucket", "my-bucket"}, {"CopySource", "src/a%20b"}, {"Key", "dst"}}));
  auto [op3, v3] = decode(req("PUT", "/my-bucket/big/obj", "uploadId=u1&partNumber=3", {}, "part"));
  EXPECT_EQ(op3, "UploadPart");
  EXPECT_EQ(v3, M({{"Body", Blob{"part"}}, {"Bucket", "my-bucket"}, {"Key", "big/obj"}, {"PartNumber", 3}, {"UploadId", "u1"}}));
}

TEST_F(S3CodecTest, MalformedInputs) {
  AwsError xml = error_of(req("POST", "/b", "delete", {}, "<Delete><Object><Key>a</Key></Object"));
  EXPECT_EQ(xml.code(), "MalformedXML");
  EXPECT_EQ(xml.http_status(), 400);
  EXPECT_EQ(error_of(req("POST", "/b", "delete", {}, "<Delete><Quiet>maybe</Quiet></Delete>")).code(), "MalformedXML");
  EXPECT_EQ(error_of(req("POST", "/b", "delete", {}, "<Delete><Object><Key><a/></Key></Object></Delete>")).code(), "MalformedXML");
  EXPECT_EQ(error_of(req("GET", "/b/k", "partNumber=two")).code(), "InvalidArgument");
  EXPECT_EQ(error_of(req("GET", "/b/k", "", {{"if-modified-since", "not a date"}})).code(), "InvalidArgument");
  EXPECT_EQ(error_of(req("PUT", "/b/k", "", {{"content-length", "-x"}})).code(), "InvalidArgument");
  // Deep documents neither crash nor recurse: elements no member names are never visited.
  std::string deep = "<Delete>", close;
  for (int i = 0; i < 100000; ++i) {
    deep += "<Object>";
    close += "</Object>";
  }
  EXPECT_EQ(error_of(req("POST", "/b", "delete", {}, deep + "</Delete>")).code(), "MalformedXML");
  auto [op, v] = decode(req("POST", "/b", "delete", {}, deep + close + "</Delete>"));
  EXPECT_EQ(v.get("Delete")->get("Objects")->size(), 1u);
}

// ---- responses -----------------------------------------------------------------------------

TEST_F(S3CodecTest, ListObjectsV2Document) {
  Value contents = L({M({{"Key", "a&b.txt"}, {"LastModified", Timestamp{1767323045}}, {"ETag", "\"abc\""}, {"Size", int64_t{5}}, {"StorageClass", "STANDARD"}}),
                      M({{"Key", "c.txt"},
                         {"LastModified", Timestamp{1767323046.123}},
                         {"ETag", "\"def\""},
                         {"Size", int64_t{7}},
                         {"StorageClass", "STANDARD"},
                         {"Owner", M({{"ID", "o1"}, {"DisplayName", "me"}})}})});
  HttpResponse r = encode("ListObjectsV2", M({{"IsTruncated", false},
                                              {"Contents", contents},
                                              {"Name", "my-bucket"},
                                              {"Prefix", ""},
                                              {"MaxKeys", 1000},
                                              {"CommonPrefixes", L({M({{"Prefix", "logs/"}})})},
                                              {"KeyCount", 2},
                                              {"EncodingType", "url"}}));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.headers, (Headers{{"x-amz-request-id", "req-123"}, {"x-amz-id-2", "req-123"}, {"Content-Type", "application/xml"}}));
  EXPECT_EQ(r.body,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><CommonPrefixes>"
            "<Prefix>logs/</Prefix></CommonPrefixes><Contents><ETag>&quot;abc&quot;</ETag><Key>a&amp;b.txt</Key><LastModified>"
            "2026-01-02T03:04:05.000Z</LastModified><Size>5</Size><StorageClass>STANDARD</StorageClass></Contents><Contents><ETag>&quot;def"
            "&quot;</ETag><Key>c.txt</Key><LastModified>2026-01-02T03:04:06.123Z</LastModified><Owner><DisplayName>me</DisplayName><ID>o1"
            "</ID></Owner><Size>7</Size><StorageClass>STANDARD</StorageClass></Contents><EncodingType>url</EncodingType><IsTruncated>false"
            "</IsTruncated><KeyCount>2</KeyCount><MaxKeys>1000</MaxKeys><Name>my-bucket</Name><Prefix></Prefix></ListBucketResult>");
}

TEST_F(S3CodecTest, GetObjectStreamsTheBlobAndSetsHeaders) {
  HttpResponse r = encode("GetObject", M({{"Body", Blob{std::string("hello\0world", 11)}},
                                         {"ContentType", "text/plain"},
                                         {"ContentLength", int64_t{11}},
                                         {"ETag", "\"e\""},
                                         {"LastModified", Timestamp{1767323045}},
                                         {"Metadata", M({{"owner", "me"}, {"x", "1"}})},
                                         {"VersionId", "v1"},
                                         {"TagCount", 3},
                                         {"DeleteMarker", false}}));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, std::string("hello\0world", 11));
  EXPECT_EQ(r.headers, (Headers{{"x-amz-request-id", "req-123"},
                                {"x-amz-id-2", "req-123"},
                                {"Content-Length", "11"},
                                {"Content-Type", "text/plain"},
                                {"x-amz-delete-marker", "false"},
                                {"ETag", "\"e\""},
                                {"Last-Modified", "Fri, 02 Jan 2026 03:04:05 GMT"},
                                {"x-amz-meta-owner", "me"},
                                {"x-amz-meta-x", "1"},
                                {"x-amz-tagging-count", "3"},
                                {"x-amz-version-id", "v1"}}));
  HttpResponse plain = encode("GetObject", M({{"Body", Blob{"x"}}}));
  EXPECT_EQ(header(plain, "Content-Type"), "binary/octet-stream");
}

TEST_F(S3CodecTest, GetBucketLocationIsTheRootText) {
  HttpResponse r = encode("GetBucketLocation", M({{"LocationConstraint", "eu-west-1"}}));
  EXPECT_EQ(r.body, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<LocationConstraint xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">eu-west-1</LocationConstraint>");
  HttpResponse us = encode("GetBucketLocation", Value::map());  // us-east-1
  EXPECT_EQ(us.body, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<LocationConstraint xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"/>");
}

TEST_F(S3CodecTest, DeleteObjectsCopyObjectAndHeaderOnlyOutputs) {
  HttpResponse d = encode("DeleteObjects", M({{"Deleted", L({M({{"Key", "a"}}), M({{"Key", "b"}, {"VersionId", "v1"}, {"DeleteMarker", true}})})},
                                             {"Errors", L({M({{"Key", "c"}, {"Code", "AccessDenied"}, {"Message", "Access Denied"}})})}}));
  EXPECT_EQ(d.body,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<DeleteResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Deleted><Key>a</Key>"
            "</Deleted><Deleted><DeleteMarker>true</DeleteMarker><Key>b</Key><VersionId>v1</VersionId></Deleted><Error><Code>AccessDenied"
            "</Code><Key>c</Key><Message>Access Denied</Message></Error></DeleteResult>");

  HttpResponse c = encode("CopyObject", M({{"CopyObjectResult", M({{"ETag", "\"e\""}, {"LastModified", Timestamp{1767323045}}})}, {"VersionId", "v3"}}));
  EXPECT_EQ(header(c, "x-amz-version-id"), "v3");
  EXPECT_EQ(c.body,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<CopyObjectResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><ETag>&quot;e&quot;"
            "</ETag><LastModified>2026-01-02T03:04:05.000Z</LastModified></CopyObjectResult>");

  HttpResponse p = encode("PutObject", M({{"ETag", "\"e\""}, {"VersionId", "v2"}}));
  EXPECT_EQ(p.body, "");
  EXPECT_EQ(p.headers, (Headers{{"x-amz-request-id", "req-123"}, {"x-amz-id-2", "req-123"}, {"ETag", "\"e\""}, {"x-amz-version-id", "v2"}}));

  HttpResponse a = encode("AbortMultipartUpload", Value::map());
  EXPECT_EQ(a.status, 204);

  HttpResponse acl = encode("GetBucketAcl", M({{"Owner", M({{"ID", "o1"}})},
                                              {"Grants", L({M({{"Grantee", M({{"Type", "CanonicalUser"}, {"ID", "o1"}})}, {"Permission", "FULL_CONTROL"}})})}}));
  EXPECT_EQ(acl.body,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<AccessControlPolicy xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><AccessControlList>"
            "<Grant><Grantee xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:type=\"CanonicalUser\"><ID>o1</ID></Grantee><Permission>"
            "FULL_CONTROL</Permission></Grant></AccessControlList><Owner><ID>o1</ID></Owner></AccessControlPolicy>");

  HttpResponse policy = encode("GetBucketPolicy", M({{"Policy", "{\"Version\":\"2012-10-17\"}"}}));
  EXPECT_EQ(policy.body, "{\"Version\":\"2012-10-17\"}");
}

TEST_F(S3CodecTest, S3ErrorDocuments) {
  HttpResponse r;
  codec_.encode_error(AwsError("NoSuchKey", "The specified key does not exist."), {"req-123"}, r);
  EXPECT_EQ(r.status, 404);  // the modeled status
  EXPECT_EQ(r.headers, (Headers{{"Content-Type", "application/xml"}, {"x-amz-request-id", "req-123"}, {"x-amz-id-2", "req-123"}}));
  EXPECT_EQ(r.body,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message>"
            "<RequestId>req-123</RequestId><HostId>req-123</HostId></Error>");
  HttpResponse m;
  codec_.encode_error(AwsError("MalformedXML", "bad <xml>"), {"r"}, m);
  EXPECT_EQ(m.status, 400);
  EXPECT_NE(m.body.find("<Code>MalformedXML</Code><Message>bad &lt;xml&gt;</Message>"), std::string::npos);
  HttpResponse i;
  codec_.encode_error(internal_error("x"), {"r"}, i);
  EXPECT_EQ(i.status, 500);
}

TEST_F(S3CodecTest, MakeCodecBuildsRestCodecs) {
  auto codec = make_codec(*model_, "rest-xml");
  ASSERT_NE(codec, nullptr);
  EXPECT_EQ(codec->name(), "rest-xml");
  EXPECT_EQ(codec->resolve_operation(req("GET", "/b", "location")).name, "GetBucketLocation");
  EXPECT_EQ(detect_protocol(*model_, req("GET", "/b")), "rest-xml");
}

// ---- rest-json -----------------------------------------------------------------------------

constexpr const char* kMiniRestModel = R"json({"metadata":{"apiVersion":"2020-01-01","endpointPrefix":"minirest","protocol":"rest-json","protocols":["rest-json"],"serviceId":"MiniRest","signatureVersion":"v4","vigilService":"minirest"},"operations":{"GetBlob":{"http":{"method":"GET","requestUri":"/blobs/{Path+}"},"input":{"shape":"GetBlobRequest"},"name":"GetBlob","output":{"shape":"GetBlobResponse"}},"GetThing":{"http":{"method":"GET","requestUri":"/things/{ThingName}"},"input":{"shape":"GetThingRequest"},"name":"GetThing","output":{"shape":"GetThingResponse"}},"ListThings":{"http":{"method":"GET","requestUri":"/things"},"input":{"shape":"ListThingsRequest"},"name":"ListThings","output":{"shape":"ListThingsResponse"}},"PutDoc":{"http":{"method":"PUT","requestUri":"/docs/{Id}"},"input":{"shape":"PutDocRequest"},"name":"PutDoc"},"PutThing":{"errors":[{"shape":"ThingNotFound"}],"http":{"method":"POST","requestUri":"/things/{ThingName}?tag","responseCode":201},"input":{"shape":"PutThingRequest"},"name":"PutThing","output":{"shape":"PutThingResponse"}}},"shapes":{"Blob":{"type":"blob"},"Boolean":{"type":"boolean"},"Doc":{"members":{"Pages":{"shape":"Integer"},"Title":{"shape":"String"}},"type":"structure"},"Double":{"type":"double"},"GetBlobRequest":{"members":{"Path":{"location":"uri","locationName":"Path","shape":"String"}},"required":["Path"],"type":"structure"},"GetBlobResponse":{"members":{"Body":{"shape":"Blob"},"ContentType":{"location":"header","locationName":"Content-Type","shape":"String"}},"payload":"Body","type":"structure"},"GetThingRequest":{"members":{"ThingName":{"location":"uri","locationName":"ThingName","shape":"String"}},"required":["ThingName"],"type":"structure"},"GetThingResponse":{"members":{"Color":{"location":"header","locationName":"X-Color","shape":"String"},"Description":{"shape":"String"},"Meta":{"location":"headers","locationName":"X-Meta-","shape":"StringMap"},"Status":{"location":"statusCode","shape":"Integer"}},"type":"structure"},"IntList":{"member":{"shape":"Integer"},"type":"list"},"Integer":{"type":"integer"},"JsonString":{"type":"string"},"ListThingsRequest":{"members":{"MaxResults":{"location":"querystring","locationName":"maxResults","shape":"Integer"},"NextToken":{"location":"querystring","locationName":"nextToken","shape":"String"}},"type":"structure"},"ListThingsResponse":{"members":{"NextToken":{"shape":"String"},"Things":{"shape":"StringList"}},"type":"structure"},"PutDocRequest":{"members":{"Doc":{"shape":"Doc"},"Id":{"location":"uri","locationName":"Id","shape":"String"}},"payload":"Doc","required":["Id","Doc"],"type":"structure"},"PutThingRequest":{"members":{"Attrs":{"jsonvalue":true,"location":"header","locationName":"X-Attrs","shape":"JsonString"},"Color":{"location":"header","locationName":"X-Color","shape":"String"},"Created":{"shape":"Time"},"Description":{"shape":"String"},"Extra":{"location":"querystring","shape":"StringMap"},"Flag":{"location":"querystring","locationName":"flag","shape":"Boolean"},"Labels":{"location":"header","locationName":"X-Labels","shape":"StringList"},"Payload":{"shape":"Blob"},"Since":{"location":"header","locationName":"X-Since","shape":"Time"},"Sizes":{"location":"querystring","locationName":"size","shape":"IntList"},"Tags":{"shape":"StringMap"},"ThingName":{"location":"uri","locationName":"ThingName","shape":"String"},"Weight":{"locationName":"weight","shape":"Double"}},"required":["ThingName"],"type":"structure"},"PutThingResponse":{"members":{"Created":{"shape":"Time"},"ThingArn":{"locationName":"thingArn","shape":"String"},"Version":{"location":"header","locationName":"X-Version","shape":"Integer"}},"type":"structure"},"String":{"type":"string"},"StringList":{"member":{"shape":"String"},"type":"list"},"StringMap":{"key":{"shape":"String"},"type":"map","value":{"shape":"String"}},"ThingNotFound":{"error":{"httpStatusCode":404},"exception":true,"members":{"Message":{"shape":"String"}},"type":"structure"},"Time":{"type":"timestamp"}}})json";

class RestJsonTest : public ::testing::Test {
 protected:
  void SetUp() override {
    model_ = load_service_model(kMiniRestModel);
    codec_ = std::make_unique<RestCodec>(*model_, "rest-json");
  }
  std::unique_ptr<ServiceModel> model_;
  std::unique_ptr<RestCodec> codec_;
};

TEST_F(RestJsonTest, DecodesEveryLocation) {
  // POST http://localhost:4566/things/t%201%2Fx?tag&size=1&size=2&flag=true&a=b&c=d%20e, as botocore sent it.
  HttpRequest r = req("POST", "/things/t%201%2Fx", "tag&size=1&size=2&flag=true&a=b&c=d%20e",
                      {{"x-color", "red"},
                       {"x-since", "Fri, 02 Jan 2026 03:04:05 GMT"},
                       {"x-labels", "l1,\"l,2\""},
                       {"x-attrs", "eyJrIjpbMSwyXX0="},
                       {"content-type", "application/json"}},
                      "{\"Description\": \"desc\", \"weight\": 1.5, \"Created\": 1767323045, \"Payload\": \"cGw=\", \"Tags\": {\"t\": \"v\"}}");
  const Operation& op = codec_->resolve_operation(r);
  EXPECT_EQ(op.name, "PutThing");
  EXPECT_EQ(codec_->decode_request(r, op), M({{"Attrs", M({{"k", L({1, 2})}})},
                                              {"Color", "red"},
                                              {"Created", Timestamp{1767323045}},
                                              {"Description", "desc"},
                                              {"Extra", M({{"a", "b"}, {"c", "d e"}})},
                                              {"Flag", true},
                                              {"Labels", L({"l1", "l,2"})},
                                              {"Payload", Blob{"pl"}},
                                              {"Since", Timestamp{1767323045}},
                                              {"Sizes", L({1, 2})},
                                              {"Tags", M({{"t", "v"}})},
                                              {"ThingName", "t 1/x"},
                                              {"Weight", 1.5}}));
  HttpRequest blob = req("GET", "/blobs/a/b%20c/d.txt");
  EXPECT_EQ(codec_->resolve_operation(blob).name, "GetBlob");
  EXPECT_EQ(codec_->decode_request(blob, codec_->resolve_operation(blob)), M({{"Path", "a/b c/d.txt"}}));
  HttpRequest doc = req("PUT", "/docs/d1", "", {{"content-type", "application/json"}}, "{\"Title\": \"T\", \"Pages\": 3}");
  EXPECT_EQ(codec_->decode_request(doc, codec_->resolve_operation(doc)), M({{"Doc", M({{"Title", "T"}, {"Pages", 3}})}, {"Id", "d1"}}));
  HttpRequest list = req("GET", "/things", "maxResults=5");
  EXPECT_EQ(codec_->decode_request(list, codec_->resolve_operation(list)), M({{"MaxResults", 5}}));
  EXPECT_EQ(codec_->resolve_operation(req("GET", "/things/t1")).name, "GetThing");
}

TEST_F(RestJsonTest, Errors) {
  HttpRequest bad = req("POST", "/things/t", "tag", {}, "{\"weight\": \"heavy\"}");
  try {
    codec_->decode_request(bad, codec_->resolve_operation(bad));
    FAIL();
  } catch (const AwsError& e) {
    EXPECT_EQ(e.code(), "SerializationException");
  }
  HttpRequest badq = req("POST", "/things/t", "tag&size=big");
  EXPECT_THROW(codec_->decode_request(badq, codec_->resolve_operation(badq)), AwsError);
  try {
    codec_->resolve_operation(req("GET", "/nothing"));
    FAIL();
  } catch (const AwsError& e) {
    EXPECT_EQ(e.code(), "UnknownOperationException");
    EXPECT_EQ(e.http_status(), 404);
  }
  HttpResponse r;
  codec_->encode_error(AwsError("ThingNotFound", "no thing"), {"rid"}, r);
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.headers, (Headers{{"Content-Type", "application/json"}, {"x-amzn-RequestId", "rid"}, {"X-Amzn-ErrorType", "ThingNotFound"}}));
  EXPECT_EQ(r.body, "{\"__type\":\"ThingNotFound\",\"Message\":\"no thing\"}");
  HttpResponse v;
  codec_->encode_error(AwsError("ValidationException", "bad"), {"rid"}, v);
  EXPECT_EQ(v.body, "{\"__type\":\"ValidationException\",\"message\":\"bad\"}");
}

TEST_F(RestJsonTest, EncodesHeadersStatusAndBody) {
  HttpResponse r;
  codec_->encode_response(M({{"ThingArn", "arn:t"}, {"Version", 4}, {"Created", Timestamp{1767323045.5}}}), *model_->operation("PutThing"), {"rid"}, r);
  EXPECT_EQ(r.status, 201);
  EXPECT_EQ(r.headers, (Headers{{"x-amzn-RequestId", "rid"}, {"X-Version", "4"}, {"Content-Type", "application/json"}}));
  EXPECT_EQ(r.body, "{\"thingArn\":\"arn:t\",\"Created\":1767323045.5}");

  HttpResponse g;
  codec_->encode_response(M({{"Status", 202}, {"Color", "blue"}, {"Meta", M({{"a", "1"}})}, {"Description", "d"}}), *model_->operation("GetThing"), {"rid"}, g);
  EXPECT_EQ(g.status, 202);
  EXPECT_EQ(g.headers, (Headers{{"x-amzn-RequestId", "rid"}, {"X-Color", "blue"}, {"X-Meta-a", "1"}, {"Content-Type", "application/json"}}));
  EXPECT_EQ(g.body, "{\"Description\":\"d\"}");

  HttpResponse b;
  codec_->encode_response(M({{"Body", Blob{"raw"}}}), *model_->operation("GetBlob"), {"rid"}, b);
  EXPECT_EQ(b.body, "raw");
  EXPECT_EQ(header(b, "Content-Type"), "application/octet-stream");
  HttpResponse typed;
  codec_->encode_response(M({{"Body", Blob{"{}"}}, {"ContentType", "application/json"}}), *model_->operation("GetBlob"), {"rid"}, typed);
  EXPECT_EQ(header(typed, "Content-Type"), "application/json");

  HttpResponse none;
  codec_->encode_response(Value(), *model_->operation("PutDoc"), {"rid"}, none);
  EXPECT_EQ(none.body, "");
}

}  // namespace
}  // namespace vigil::protocol
