// The SNS model without HTTP: topics, subscriptions, confirmation tokens, signed messages
// (verified with the served certificate), paging, the public publish API and persistence.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <unistd.h>

#include <filesystem>
#include <memory>

#include "core/aws_error.h"
#include "core/clock.h"
#include "core/encoding.h"
#include "protocol/json_codec.h"
#include "services/sns/topics.h"
#include "store/store.h"
#include "temp_dir.h"

namespace vigil::sns {
namespace {

constexpr const char* kAccount = "000000000000";
constexpr const char* kRegion = "us-east-1";

class SnsTopics : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = vigil::testing::make_temp_dir("vigil-sns");
    store_ = store::Store::open(dir_ + "/db");
    open_topics();
  }
  void TearDown() override {
    topics_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  void open_topics() {
    topics_ = std::make_unique<Topics>(*store_, clock_);
    topics_->load();
    topics_->set_endpoint("http://127.0.0.1:4566");
    topics_->set_sink([this](Outbound m) { sent_.push_back(std::move(m)); });
  }
  std::string create(const std::string& name, Value attributes = Value()) {
    Value in = Value::map();
    in.set("Name", name);
    if (!attributes.is_null()) in.set("Attributes", std::move(attributes));
    return std::string(topics_->create_topic(kAccount, kRegion, in).str("TopicArn"));
  }
  Value subscribe(const std::string& arn, const std::string& endpoint) {
    Value in = Value::map();
    in.set("TopicArn", arn);
    in.set("Protocol", "http");
    in.set("Endpoint", endpoint);
    in.set("ReturnSubscriptionArn", true);
    return topics_->subscribe(kAccount, kRegion, in);
  }
  static std::string error_of(const std::function<void()>& f) {
    try {
      f();
    } catch (const AwsError& e) {
      return e.code() + ": " + e.message();
    }
    return "no error";
  }
  bool verify(const Value& message) {
    std::string pem = topics_->certificate_pem(kRegion);
    std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
    std::unique_ptr<X509, decltype(&X509_free)> cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr), X509_free);
    if (!cert) return false;
    EVP_PKEY* key = X509_get0_pubkey(cert.get());
    std::string sig = base64_decode(message.str("Signature")).value_or("");
    std::string data = Topics::string_to_sign(message);
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
    const EVP_MD* md = message.str("SignatureVersion") == "2" ? EVP_sha256() : EVP_sha1();
    EVP_DigestVerifyInit(ctx.get(), nullptr, md, nullptr, key);
    return EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                            reinterpret_cast<const unsigned char*>(data.data()), data.size()) == 1;
  }

  std::string dir_;
  ManualClock clock_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<Topics> topics_;
  std::vector<Outbound> sent_;
};

TEST_F(SnsTopics, CreateIsIdempotentAndValidatesNames) {
  std::string arn = create("orders");
  EXPECT_EQ(arn, "arn:aws:sns:us-east-1:000000000000:orders");
  EXPECT_EQ(create("orders"), arn);
  EXPECT_EQ(error_of([&] { create("bad name"); }), "InvalidParameterException: Invalid parameter: Topic Name");
  EXPECT_EQ(error_of([&] { create("x.fifo"); }), "InvalidParameterException: Invalid parameter: Topic Name");
  Value fifo = Value::map();
  fifo.set("FifoTopic", "true");
  EXPECT_EQ(create("x.fifo", fifo), "arn:aws:sns:us-east-1:000000000000:x.fifo");
  Value display = Value::map();
  display.set("DisplayName", "other");
  EXPECT_NE(error_of([&] { create("orders", display); }).find("different attributes"), std::string::npos);
}

TEST_F(SnsTopics, AttributesHaveAwsDefaults) {
  std::string arn = create("t1");
  Value a = *topics_->get_topic_attributes(kAccount, kRegion, arn).get("Attributes");
  EXPECT_EQ(a.str("TopicArn"), arn);
  EXPECT_EQ(a.str("Owner"), kAccount);
  EXPECT_EQ(a.str("SubscriptionsConfirmed"), "0");
  EXPECT_EQ(a.str("SubscriptionsPending"), "0");
  EXPECT_EQ(a.str("SubscriptionsDeleted"), "0");
  EXPECT_NE(a.str("Policy").find("__default_policy_ID"), std::string::npos);
  EXPECT_NE(a.str("EffectiveDeliveryPolicy").find("\"numRetries\":3"), std::string::npos);
  Value set = Value::map();
  set.set("TopicArn", arn);
  set.set("AttributeName", "DisplayName");
  set.set("AttributeValue", "Orders");
  topics_->set_topic_attributes(kAccount, kRegion, set);
  EXPECT_EQ(topics_->get_topic_attributes(kAccount, kRegion, arn).get("Attributes")->str("DisplayName"), "Orders");
  set.set("AttributeName", "Nope");
  EXPECT_EQ(error_of([&] { topics_->set_topic_attributes(kAccount, kRegion, set); }), "InvalidParameterException: Invalid parameter: AttributeName");
  EXPECT_EQ(error_of([&] { topics_->get_topic_attributes(kAccount, kRegion, arn + "x"); }), "NotFoundException: Topic does not exist");
  EXPECT_EQ(error_of([&] { topics_->get_topic_attributes(kAccount, kRegion, "nope"); }), "InvalidParameterException: Invalid parameter: TopicArn");
  EXPECT_EQ(error_of([&] { topics_->get_topic_attributes("111111111111", kRegion, arn); }).substr(0, 27), "AuthorizationErrorException");
}

TEST_F(SnsTopics, SubscribeConfirmPublishSigned) {
  std::string arn = create("t2");
  std::string sub_arn(subscribe(arn, "http://127.0.0.1:9/hook").str("SubscriptionArn"));
  ASSERT_EQ(sent_.size(), 1u);
  Value confirmation = protocol::json_to_value(sent_[0].body, nullptr);
  EXPECT_EQ(confirmation.str("Type"), "SubscriptionConfirmation");
  EXPECT_EQ(confirmation.str("SignatureVersion"), "1");
  EXPECT_NE(confirmation.str("SubscribeURL").find("Action=ConfirmSubscription"), std::string::npos);
  EXPECT_EQ(confirmation.str("SigningCertURL"), "http://127.0.0.1:4566/_vigil/sns/SimpleNotificationService-us-east-1.pem");
  EXPECT_TRUE(verify(confirmation));
  // Pending subscriptions get nothing.
  Value pub = Value::map();
  pub.set("TopicArn", arn);
  pub.set("Message", "hello");
  topics_->publish(kAccount, kRegion, pub);
  EXPECT_EQ(sent_.size(), 1u);
  EXPECT_EQ(error_of([&] { topics_->confirm_subscription(kRegion, arn, "bad", true); }), "InvalidParameterException: Invalid parameter: Invalid token");
  Value confirmed = topics_->confirm_subscription(kRegion, arn, std::string(confirmation.str("Token")), true);
  EXPECT_EQ(confirmed.str("SubscriptionArn"), sub_arn);
  pub.set("Subject", "greeting");
  Value attrs = Value::map();
  Value attr = Value::map();
  attr.set("DataType", "String");
  attr.set("StringValue", "v1");
  attrs.set("k1", attr);
  pub.set("MessageAttributes", attrs);
  std::string id(topics_->publish(kAccount, kRegion, pub).str("MessageId"));
  ASSERT_EQ(sent_.size(), 2u);
  Value n = protocol::json_to_value(sent_[1].body, nullptr);
  EXPECT_EQ(n.str("Type"), "Notification");
  EXPECT_EQ(n.str("MessageId"), id);
  EXPECT_EQ(n.str("Subject"), "greeting");
  EXPECT_EQ(n.str("Message"), "hello");
  EXPECT_EQ(n.get("MessageAttributes")->get("k1")->str("Value"), "v1");
  EXPECT_NE(n.str("UnsubscribeURL").find("Action=Unsubscribe"), std::string::npos);
  EXPECT_TRUE(verify(n));
  n.set("Message", "tampered");
  EXPECT_FALSE(verify(n));
  // The public API used by other services.
  EXPECT_TRUE(topics_->publish(kAccount, kRegion, arn, "alarm", "body").has_value());
  EXPECT_FALSE(topics_->publish(kAccount, kRegion, arn + "-missing", "alarm", "body").has_value());
  EXPECT_EQ(sent_.size(), 3u);
  Value a = *topics_->get_topic_attributes(kAccount, kRegion, arn).get("Attributes");
  EXPECT_EQ(a.str("SubscriptionsConfirmed"), "1");
  topics_->unsubscribe(kAccount, kRegion, sub_arn);
  a = *topics_->get_topic_attributes(kAccount, kRegion, arn).get("Attributes");
  EXPECT_EQ(a.str("SubscriptionsConfirmed"), "0");
  EXPECT_EQ(a.str("SubscriptionsDeleted"), "1");
  EXPECT_EQ(error_of([&] { topics_->unsubscribe(kAccount, kRegion, sub_arn); }), "NotFoundException: Subscription does not exist");
}

TEST_F(SnsTopics, PublishValidation) {
  std::string arn = create("t3");
  Value pub = Value::map();
  pub.set("TopicArn", arn);
  pub.set("Message", "");
  EXPECT_EQ(error_of([&] { topics_->publish(kAccount, kRegion, pub); }), "InvalidParameterException: Invalid parameter: Empty message");
  pub.set("Message", "{\"x\":\"y\"}");
  pub.set("MessageStructure", "json");
  EXPECT_EQ(error_of([&] { topics_->publish(kAccount, kRegion, pub); }),
            "InvalidParameterException: Invalid parameter: Message Structure - No default entry in JSON message body");
  Value none = Value::map();
  none.set("Message", "m");
  EXPECT_EQ(error_of([&] { topics_->publish(kAccount, kRegion, none); }),
            "InvalidParameterException: Invalid parameter: TopicArn or TargetArn Reason: no value for required parameter");
}

TEST_F(SnsTopics, ListTopicsPagesBy100) {
  for (int i = 0; i < 150; ++i) create("p" + std::to_string(1000 + i));
  Value first = topics_->list_topics(kAccount, kRegion, "");
  EXPECT_EQ(first.get("Topics")->size(), 100u);
  ASSERT_TRUE(first.has("NextToken"));
  Value second = topics_->list_topics(kAccount, kRegion, first.str("NextToken"));
  EXPECT_EQ(second.get("Topics")->size(), 50u);
  EXPECT_FALSE(second.has("NextToken"));
  EXPECT_EQ(topics_->list_topics(kAccount, "eu-west-1", "").get("Topics")->size(), 0u);
}

TEST_F(SnsTopics, SurvivesRestart) {
  std::string arn = create("durable");
  std::string sub_arn(subscribe(arn, "http://127.0.0.1:9/hook").str("SubscriptionArn"));
  Value confirmation = protocol::json_to_value(sent_[0].body, nullptr);
  topics_->confirm_subscription(kRegion, arn, std::string(confirmation.str("Token")), false);
  std::string cert = topics_->certificate_pem(kRegion);
  Value tags = Value::list();
  Value tag = Value::map();
  tag.set("Key", "team");
  tag.set("Value", "ops");
  tags.push(tag);
  Value tag_in = Value::map();
  tag_in.set("ResourceArn", arn);
  tag_in.set("Tags", tags);
  topics_->tag_resource(kAccount, kRegion, tag_in);
  open_topics();
  EXPECT_EQ(topics_->list_topics(kAccount, kRegion, "").get("Topics")->size(), 1u);
  Value subs = topics_->list_subscriptions_by_topic(kAccount, kRegion, arn, "");
  ASSERT_EQ(subs.get("Subscriptions")->size(), 1u);
  EXPECT_EQ(subs.get("Subscriptions")->as_list()[0].str("SubscriptionArn"), sub_arn);
  EXPECT_EQ(topics_->list_tags(kAccount, kRegion, arn).get("Tags")->size(), 1u);
  EXPECT_EQ(topics_->certificate_pem(kRegion), cert);
  topics_->delete_topic(kAccount, kRegion, arn);
  topics_->delete_topic(kAccount, kRegion, arn);  // idempotent
  open_topics();
  EXPECT_EQ(topics_->list_topics(kAccount, kRegion, "").get("Topics")->size(), 0u);
  EXPECT_EQ(topics_->list_subscriptions(kAccount, kRegion, "").get("Subscriptions")->size(), 0u);
}

}  // namespace
}  // namespace vigil::sns
