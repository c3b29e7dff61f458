// SNS topics and subscriptions, without HTTP. State, in the store's Meta keyspace (every write
// synced before the call answers):
//
//   sns:t: account \0 region \0 name  -> topic JSON {"Attributes":{...},"Tags":[...],"Deleted":n}
//   sns:s: subscription id            -> subscription JSON (ARN, topic, protocol, endpoint,
//                                        owner, Confirmed, Token, Attributes)
//   sns:k: region                     -> {"Key": private key PEM, "Cert": X.509 PEM}
//
// A subscription to an http/https endpoint starts "PendingConfirmation": a signed
// SubscriptionConfirmation is POSTed to the endpoint (by Delivery, on its own thread), and
// ConfirmSubscription with its token (or a GET of its SubscribeURL) confirms it. Publish signs
// one Notification per confirmed http/https subscription and hands it to the delivery sink;
// notifications in flight are kept in memory only (a restart drops them, at-most-once).
#pragma once

#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/clock.h"
#include "core/event_bus.h"
#include "core/value.h"
#include "store/store.h"

namespace vigil::sns {

// One HTTP POST for Delivery: the body and headers as SNS sends them, and the retry policy.
struct Outbound {
  std::string url;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  int num_retries = 3;        // healthyRetryPolicy.numRetries
  double min_delay = 20;      // seconds, minDelayTarget
  double max_delay = 20;      // seconds, maxDelayTarget
  std::string content_type = "text/plain; charset=UTF-8";
};

class Topics {
 public:
  Topics(store::Store& store, const Clock& clock, EventBus* bus = nullptr);

  void load();   // startup: topics, subscriptions and keys from the store
  void reset();  // after the store was cleared
  // Base URL clients reach this server on ("http://127.0.0.1:4566"), for SubscribeURL,
  // UnsubscribeURL and SigningCertURL.
  void set_endpoint(std::string base_url);
  // Where signed messages go (Delivery::enqueue; tests capture them).
  void set_sink(std::function<void(Outbound)> sink);

  // The operations, in the caller's account and region, with AWS's validation and errors.
  Value create_topic(const std::string& account, const std::string& region, const Value& input);
  void delete_topic(const std::string& account, const std::string& region, std::string_view arn);
  Value list_topics(const std::string& account, const std::string& region, std::string_view next_token) const;
  Value get_topic_attributes(const std::string& account, const std::string& region, std::string_view arn) const;
  void set_topic_attributes(const std::string& account, const std::string& region, const Value& input);
  Value subscribe(const std::string& account, const std::string& region, const Value& input);
  // ConfirmSubscription; `authenticated` false for a GET of the SubscribeURL.
  Value confirm_subscription(const std::string& region, std::string_view topic_arn, std::string_view token, bool authenticated);
  // Unsubscribe; an empty account means an unauthenticated GET of the UnsubscribeURL.
  void unsubscribe(const std::string& account, const std::string& region, std::string_view subscription_arn);
  Value list_subscriptions(const std::string& account, const std::string& region, std::string_view next_token) const;
  Value list_subscriptions_by_topic(const std::string& account, const std::string& region, std::string_view topic_arn,
                                    std::string_view next_token) const;
  Value get_subscription_attributes(const std::string& account, const std::string& region, std::string_view arn) const;
  Value publish(const std::string& account, const std::string& region, const Value& input);
  void tag_resource(const std::string& account, const std::string& region, const Value& input);
  void untag_resource(const std::string& account, const std::string& region, const Value& input);
  Value list_tags(const std::string& account, const std::string& region, std::string_view arn) const;

  // For other services (CloudWatch alarm actions): publishes to a topic of the account and
  // region; the MessageId, or nullopt when the topic does not exist.
  std::optional<std::string> publish(const std::string& account, const std::string& region, const std::string& topic_arn,
                                     const std::string& subject, const std::string& message);

  // The X.509 certificate (PEM) whose key signs the region's messages (created on first use).
  std::string certificate_pem(const std::string& region);
  // The canonical string SignatureVersion 1/2 signs, from a message's JSON fields.
  static std::string string_to_sign(const Value& message);
  std::string cert_url(const std::string& region) const;

 private:
  struct Topic {
    std::string account, region, name, arn;
    Value doc;  // {"Attributes":{...},"Tags":[...],"Deleted":n}
  };
  struct Sub {
    std::string id;
    Value doc;  // SubscriptionArn, TopicArn, Protocol, Endpoint, Owner, Confirmed, Token, Attributes
  };
  struct RegionKey {
    std::string key_pem, cert_pem;
  };

  Topic& find_topic(const std::string& account, const std::string& region, std::string_view arn, std::string_view op);
  const Topic& find_topic(const std::string& account, const std::string& region, std::string_view arn, std::string_view op) const;
  void save_topic(const Topic& t);
  void save_sub(const Sub& s);
  void erase_sub(store::WriteBatch& batch, const std::string& id);
  const RegionKey& region_key(const std::string& region);  // mutex_ held
  // Signs and hands to the sink (mutex_ held).
  void send(const std::string& region, const Topic& topic, const Sub& sub, Value message);
  void send_confirmation(const Topic& topic, const Sub& sub);
  std::string publish_locked(const std::string& account, const std::string& region, Topic& topic, const Value& input);
  Value subscription_view(const Sub& s) const;

  store::Store& store_;
  const Clock& clock_;
  EventBus* bus_;
  mutable std::mutex mutex_;
  std::map<std::string, Topic> topics_;  // by account \0 region \0 name
  std::map<std::string, Sub> subs_;      // by id
  std::map<std::string, RegionKey> keys_;
  std::string endpoint_ = "http://127.0.0.1:4566";
  std::function<void(Outbound)> sink_;
  uint64_t fifo_sequence_ = 0;
};

}  // namespace vigil::sns
