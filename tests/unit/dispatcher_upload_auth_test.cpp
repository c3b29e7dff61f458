// Large S3 uploads are authenticated from their head, before the listener spools the body
// (Dispatcher::refuse_before_body), and judged as of that moment once the body is in: an
// upload longer than the 15-minute skew window still lands, a forged one never reaches disk.
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "core/clock.h"
#include "server/accounts.h"
#include "server/dispatcher.h"
#include "services/s3/s3_service.h"
#include "s3_test_fixture.h"

namespace vigil::server {
namespace {

using namespace std::chrono_literals;

// Signed by botocore's S3SigV4Auth at 2026-01-01T00:00:00Z with AKIDEXAMPLE (the
// s3_put_unsigned_payload vector of sigv4_test.cpp).
HttpRequest signed_put_head() {
  HttpRequest r;
  r.method = "PUT";
  r.path = "/bucket/big.bin";
  r.remote_address = "127.0.0.1";
  r.headers = {{"host", "localhost:4566"},
               {"x-amz-date", "20260101T000000Z"},
               {"x-amz-content-sha256", "UNSIGNED-PAYLOAD"},
               {"authorization",
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/us-east-1/s3/aws4_request, "
                "SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=cf14a2ba3ff147732de8b60e759e94e5c3b6a052a7302984a14951dbe8ff29ac"},
               {"content-length", "100"}};
  return r;
}

class UploadAuth : public s3::S3StoreFixture {
 protected:
  void SetUp() override {
    set_up("vigil-upload-auth", "bucket", "111122223333");
    ServerConfig config;
    config.dev_credentials = false;
    config.principals.push_back(Principal{"111122223333", "root", "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", true});
    accounts_ = std::make_unique<Accounts>(config);
    s3_ = std::make_unique<s3::S3Service>(*objects_, *uploads_);
    dispatcher_ = std::make_unique<Dispatcher>(*accounts_, clock_);
    dispatcher_->add_service(s3_.get());
  }
  void TearDown() override {
    dispatcher_.reset();
    s3_.reset();
    S3StoreFixture::TearDown();
  }

  ManualClock clock_{1'767'225'600'000};  // 2026-01-01T00:00:00Z
  std::unique_ptr<Accounts> accounts_;
  std::unique_ptr<s3::S3Service> s3_;
  std::unique_ptr<Dispatcher> dispatcher_;
};

TEST_F(UploadAuth, AGoodHeadPassesAndIsJudgedAsOfItsArrival) {
  HttpRequest head = signed_put_head();
  int64_t at = 0;
  EXPECT_FALSE(dispatcher_->refuse_before_body(head, at).has_value());
  EXPECT_EQ(at, clock_.now_millis());
  // The body takes 20 minutes to arrive: judged now it would be RequestTimeTooSkewed ...
  clock_.advance(20min);
  HttpRequest full = head;
  full.body = std::string(100, 'x');
  EXPECT_EQ(dispatcher_->handle(full).status, 403);
  // ... judged as of its head it is stored.
  full.head_authenticated_ms = at;
  HttpResponse stored = dispatcher_->handle(full);
  EXPECT_EQ(stored.status, 200) << stored.body;
  EXPECT_TRUE(objects_->head("bucket", "big.bin").has_value());
}

TEST_F(UploadAuth, AForgedOrStaleHeadIsRefusedWithS3sError) {
  HttpRequest forged = signed_put_head();
  forged.headers[3].second.back() = forged.headers[3].second.back() == '0' ? '1' : '0';
  int64_t at = 0;
  auto refusal = dispatcher_->refuse_before_body(forged, at);
  ASSERT_TRUE(refusal.has_value());
  EXPECT_EQ(refusal->status, 403);
  EXPECT_NE(refusal->body.find("<Code>SignatureDoesNotMatch</Code>"), std::string::npos) << refusal->body;
  EXPECT_EQ(at, 0);

  HttpRequest unknown = signed_put_head();
  unknown.headers[3].second.replace(unknown.headers[3].second.find("AKIDEXAMPLE"), 11, "AKIDNOBODY1");
  refusal = dispatcher_->refuse_before_body(unknown, at);
  ASSERT_TRUE(refusal.has_value());
  EXPECT_NE(refusal->body.find("<Code>InvalidAccessKeyId</Code>"), std::string::npos) << refusal->body;

  clock_.advance(16min);
  refusal = dispatcher_->refuse_before_body(signed_put_head(), at);
  ASSERT_TRUE(refusal.has_value());
  EXPECT_NE(refusal->body.find("<Code>RequestTimeTooSkewed</Code>"), std::string::npos) << refusal->body;
}

}  // namespace
}  // namespace vigil::server
