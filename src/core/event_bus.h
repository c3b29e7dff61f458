// The internal event bus: every state change is published once as a typed event; EventBridge,
// the Config recorder, trail delivery and the detectors subscribe. Delivery is synchronous on
// the publisher's thread, so a subscriber must be quick (queue work, do not block).
#pragma once

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
};

class EventBus {
 public:
  using Subscriber = std::function<void(const BusEvent&)>;
  void subscribe(Subscriber subscriber) {
    std::lock_guard lock(mutex_);
    auto next = std::make_shared<std::vector<Subscriber>>(subscribers_ ? *subscribers_ : std::vector<Subscriber>());
    next->push_back(std::move(subscriber));
    subscribers_ = std::move(next);
  }
  bool has_subscribers() {
    std::lock_guard lock(mutex_);
    return subscribers_ && !subscribers_->empty();
  }
  // Every API call publishes: the list is copied on subscribe (rare), so a publish only takes
  // a reference to the current list (no allocation), and a subscriber may subscribe others.
  void publish(const BusEvent& event) {
    std::shared_ptr<const std::vector<Subscriber>> current;
    {
      std::lock_guard lock(mutex_);
      current = subscribers_;
    }
    if (current)
      for (const auto& s : *current) s(event);
  }

 private:
  std::mutex mutex_;
  std::shared_ptr<const std::vector<Subscriber>> subscribers_;
};

}  // namespace vigil
