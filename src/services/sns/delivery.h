// Outbound HTTP/HTTPS POSTs of SNS messages, on one dedicated thread (never a request
// thread). A message whose endpoint does not answer 2xx (or cannot be reached) is retried per
// its delivery policy: numRetries more attempts, the delays spread linearly from
// minDelayTarget to maxDelayTarget, then dropped, as AWS does without a dead-letter queue.
// Queued messages live in memory only. https verifies the endpoint's certificate against the
// system's trust store unless VIGIL_SNS_INSECURE_TLS=1 is set (for tests with self-signed
// endpoints; AWS always verifies).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <queue>
#include <string>
#include <thread>
#include <vector>

#include "services/sns/topics.h"

namespace vigil::sns {

struct HttpResult {
  int status = 0;       // 0: no response (connection, TLS or timeout failure)
  std::string error;    // why, when status is 0
};

// One POST with a timeout; exposed for tests.
HttpResult http_post(const Outbound& message, bool verify_tls, int timeout_seconds);

class Delivery {
 public:
  Delivery();
  ~Delivery();
  void start();
  void stop();  // drops what is queued
  void enqueue(Outbound message);
  bool verify_tls = true;
  int timeout_seconds = 15;  // AWS's HTTP delivery timeout

 private:
  struct Item {
    double due;  // steady seconds
    uint64_t seq;
    int attempt;  // attempts made so far
    Outbound message;
    bool operator>(const Item& o) const { return due != o.due ? due > o.due : seq > o.seq; }
  };
  void run();
  std::mutex mutex_;
  std::condition_variable cv_;
  std::priority_queue<Item, std::vector<Item>, std::greater<>> queue_;
  uint64_t seq_ = 0;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace vigil::sns
