#include "services/sns/sns_service.h"

#include "core/arn.h"
#include "core/encoding.h"
#include "core/ids.h"

namespace vigil::sns {

namespace {

Value empty() { return Value::map(); }

std::string query_param(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    size_t eq = pair.find('=');
    if (percent_decode(pair.substr(0, eq), true) == name) return eq == std::string_view::npos ? "" : percent_decode(pair.substr(eq + 1), true);
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return {};
}

// The region field of an ARN (arn:aws:sns:REGION:...), or empty.
std::string arn_region(std::string_view arn) {
  auto parts = split_arn(arn);
  return parts ? std::string(parts->region) : std::string();
}

constexpr std::string_view kNamespace = "http://sns.amazonaws.com/doc/2010-03-31/";

HttpResponse xml_response(std::string_view action, const std::string& result_xml) {
  std::string id = new_uuid();
  HttpResponse r;
  r.set_header("Content-Type", "text/xml");
  r.set_header("x-amzn-RequestId", id);
  r.body = "<" + std::string(action) + "Response xmlns=\"" + std::string(kNamespace) + "\">" + result_xml +
           "<ResponseMetadata><RequestId>" + id + "</RequestId></ResponseMetadata></" + std::string(action) + "Response>";
  return r;
}

HttpResponse xml_error(const AwsError& e) {
  std::string id = new_uuid();
  std::string code = e.code();
  if (code.size() > 9 && code.substr(code.size() - 9) == "Exception") code.resize(code.size() - 9);
  HttpResponse r;
  r.status = e.http_status();
  r.set_header("Content-Type", "text/xml");
  r.set_header("x-amzn-RequestId", id);
  r.body = "<ErrorResponse xmlns=\"" + std::string(kNamespace) + "\"><Error><Type>Sender</Type><Code>" + xml_escape(code) + "</Code><Message>" +
           xml_escape(e.message()) + "</Message></Error><RequestId>" + id + "</RequestId></ErrorResponse>";
  return r;
}

}  // namespace

SnsService::SnsService(Topics& topics) : Service(*protocol::embedded_model("sns")), topics_(topics) {
  using server::CallContext;
  auto arn_resource = [](CallContext& ctx, std::string_view arn) { ctx.resources.emplace_back("AWS::SNS::Topic", std::string(arn)); };
  on("CreateTopic", [this](CallContext& ctx, const Value& in) {
    Value out = topics_.create_topic(ctx.account_id, ctx.region, in);
    ctx.resources.emplace_back("AWS::SNS::Topic", std::string(out.str("TopicArn")));
    return out;
  });
  on("DeleteTopic", [this, arn_resource](CallContext& ctx, const Value& in) {
    arn_resource(ctx, in.str("TopicArn"));
    topics_.delete_topic(ctx.account_id, ctx.region, in.str("TopicArn"));
    return empty();
  });
  on("ListTopics", [this](CallContext& ctx, const Value& in) { return topics_.list_topics(ctx.account_id, ctx.region, in.str("NextToken")); });
  on("GetTopicAttributes", [this, arn_resource](CallContext& ctx, const Value& in) {
    arn_resource(ctx, in.str("TopicArn"));
    return topics_.get_topic_attributes(ctx.account_id, ctx.region, in.str("TopicArn"));
  });
  on("SetTopicAttributes", [this, arn_resource](CallContext& ctx, const Value& in) {
    arn_resource(ctx, in.str("TopicArn"));
    topics_.set_topic_attributes(ctx.account_id, ctx.region, in);
    return empty();
  });
  on("Subscribe", [this, arn_resource](CallContext& ctx, const Value& in) {
    arn_resource(ctx, in.str("TopicArn"));
    return topics_.subscribe(ctx.account_id, ctx.region, in);
  });
  on("ConfirmSubscription", [this, arn_resource](CallContext& ctx, const Value& in) {
    arn_resource(ctx, in.str("TopicArn"));
    return topics_.confirm_subscription(ctx.region, in.str("TopicArn"), in.str("Token"), true);
  });
  on("Unsubscribe", [this](CallContext& ctx, const Value& in) {
    topics_.unsubscribe(ctx.account_id, ctx.region, in.str("SubscriptionArn"));
    return empty();
  });
  on("ListSubscriptions", [this](CallContext& ctx, const Value& in) {
    return topics_.list_subscriptions(ctx.account_id, ctx.region, in.str("NextToken"));
  });
  on("ListSubscriptionsByTopic", [this, arn_resource](CallContext& ctx, const Value& in) {
    arn_resource(ctx, in.str("TopicArn"));
    return topics_.list_subscriptions_by_topic(ctx.account_id, ctx.region, in.str("TopicArn"), in.str("NextToken"));
  });
  on("GetSubscriptionAttributes", [this](CallContext& ctx, const Value& in) {
    return topics_.get_subscription_attributes(ctx.account_id, ctx.region, in.str("SubscriptionArn"));
  });
  on("Publish", [this, arn_resource](CallContext& ctx, const Value& in) {
    arn_resource(ctx, in.str("TopicArn").empty() ? in.str("TargetArn") : in.str("TopicArn"));
    return topics_.publish(ctx.account_id, ctx.region, in);
  });
  on("TagResource", [this](CallContext& ctx, const Value& in) {
    topics_.tag_resource(ctx.account_id, ctx.region, in);
    return empty();
  });
  on("UntagResource", [this](CallContext& ctx, const Value& in) {
    topics_.untag_resource(ctx.account_id, ctx.region, in);
    return empty();
  });
  on("ListTagsForResource", [this](CallContext& ctx, const Value& in) {
    return topics_.list_tags(ctx.account_id, ctx.region, in.str("ResourceArn"));
  });
}

std::optional<HttpResponse> SnsService::public_request(const HttpRequest& request) {
  static constexpr std::string_view kCertPrefix = "/_vigil/sns/SimpleNotificationService-";
  if (request.method == "GET" && request.path.rfind(kCertPrefix, 0) == 0 && request.path.size() > kCertPrefix.size() + 4 &&
      request.path.substr(request.path.size() - 4) == ".pem") {
    std::string region = request.path.substr(kCertPrefix.size(), request.path.size() - kCertPrefix.size() - 4);
    for (char c : region)
      if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return std::nullopt;
    HttpResponse r;
    r.set_header("Content-Type", "application/x-x509-ca-cert");
    r.body = topics_.certificate_pem(region);
    return r;
  }
  if (request.method != "GET" || request.path != "/" || request.has_header("authorization")) return std::nullopt;
  std::string action = query_param(request.query, "Action");
  try {
    if (action == "ConfirmSubscription") {
      std::string topic_arn = query_param(request.query, "TopicArn");
      Value out = topics_.confirm_subscription(arn_region(topic_arn), topic_arn, query_param(request.query, "Token"), false);
      return xml_response(action, "<ConfirmSubscriptionResult><SubscriptionArn>" + xml_escape(out.str("SubscriptionArn")) +
                                      "</SubscriptionArn></ConfirmSubscriptionResult>");
    }
    if (action == "Unsubscribe") {
      std::string arn = query_param(request.query, "SubscriptionArn");
      topics_.unsubscribe("", arn_region(arn), arn);
      return xml_response(action, "");
    }
  } catch (const AwsError& e) {
    return xml_error(e);
  }
  return std::nullopt;
}

}  // namespace vigil::sns
