// The internal event bus: every state change is published once as a typed event; EventBridge,
// the Config recorder, trail delivery and the detectors subscribe. Delivery is synchronous on
// the publisher's thread, so a subscriber must be quick (queue work, do not block).
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/value.h"

namespace vigil {

struct BusEvent {
  std::string source;       // "aws.logs", "aws.cloudwatch", ...
  std::string detail_type;  // "AWS API Call via CloudTrail", "CloudWatch Alarm State Change", ...
  std::string account, region;
  double time = 0;          // epoch seconds
  std::vector<std::string> resources;
  Value detail;
  // The CloudTrail recorder publishes its record as JSON only (detail stays null): building a
  // tree for every call cost more than what most subscribers do with it. Its subscribers parse
  // it when they have work for it (cloudtrail::call_record).
  std::string detail_json;
};

class EventBus {
 public:
  using Subscriber = std::function<void(const BusEvent&)>;
  // Subscribing is rare (start-up); every API call publishes. So the list is immutable once
  // published: subscribe() makes a new one and keeps the old ones alive until the bus goes,
  // and publish() reads the current one with one atomic load (no lock: 128 workers).
  void subscribe(Subscriber subscriber) {
    std::lock_guard lock(mutex_);
    const auto* now = current_.load();
    auto next = std::make_unique<std::vector<Subscriber>>(now ? *now : std::vector<Subscriber>());
    next->push_back(std::move(subscriber));
    current_.store(next.get());
    versions_.push_back(std::move(next));
  }
  bool has_subscribers() const {
    const auto* now = current_.load(std::memory_order_acquire);
    return now && !now->empty();
  }
  void publish(const BusEvent& event) const {
    if (const auto* now = current_.load(std::memory_order_acquire))
      for (const auto& s : *now) s(event);
  }

 private:
  std::mutex mutex_;  // serialises subscribe()
  std::atomic<const std::vector<Subscriber>*> current_{nullptr};
  std::vector<std::unique_ptr<const std::vector<Subscriber>>> versions_;
};

}  // namespace vigil
