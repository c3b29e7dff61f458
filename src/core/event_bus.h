// The internal event bus: every state change is published once as a typed event; EventBridge,
// the Config recorder, trail delivery and the detectors subscribe. Delivery is synchronous on
// the publisher's thread, so a subscriber must be quick (queue work, do not block).
#pragma once

#include <functional>
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
    subscribers_.push_back(std::move(subscriber));
  }
  bool has_subscribers() {
    std::lock_guard lock(mutex_);
    return !subscribers_.empty();
  }
  void publish(const BusEvent& event) {
    std::vector<Subscriber> copy;
    {
      std::lock_guard lock(mutex_);
      copy = subscribers_;
    }
    for (auto& s : copy) s(event);
  }

 private:
  std::mutex mutex_;
  std::vector<Subscriber> subscribers_;
};

}  // namespace vigil
