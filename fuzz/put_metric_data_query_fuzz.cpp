// libFuzzer: PutMetricData's hand-written AWS query decoder (services/cloudwatch/
// put_metric_data_query_decoder) against the generic path (QueryCodec::decode_request +
// validate_input with the cloudwatch model, then put_metric_data_input). Whatever the fast
// decoder accepts, the generic path must accept with the identical PutMetricDataInput (doubles
// compared bit for bit, so a -0 for a 0 shows); what it declines goes to the generic path in
// the server, so declining is always safe. The decoder also runs into an input reused across
// runs (as the server's per-thread one is), which must give the same result as a fresh one.
//
// The first byte picks how the rest is used: as the whole body, or spliced into a valid body
// as the namespace, a metric name, a dimension, a number, a timestamp, the parameters of a
// datum, of a dimension, or of the request, so the fuzzer reaches every member without a
// corpus.
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include "core/aws_error.h"
#include "core/http_message.h"
#include "protocol/query_codec.h"
#include "protocol/schema.h"
#include "protocol/validate.h"
#include "services/cloudwatch/put_metric_data_query_decoder.h"

namespace {

using namespace vigil;

struct Fixture {
  const protocol::ServiceModel* model = nullptr;
  std::unique_ptr<protocol::QueryCodec> codec;
  const protocol::Operation* operation = nullptr;
  cloudwatch::PutMetricDataInput reused;
  Fixture() {
    model = protocol::embedded_model("cloudwatch");
    if (!model) std::abort();
    codec = std::make_unique<protocol::QueryCodec>(*model);
    operation = model->operation("PutMetricData");
    if (!operation) std::abort();
  }
};

std::string body_for(uint8_t mode, const std::string& fuzz) {
  const std::string head = "Action=PutMetricData&Version=2010-08-01&Namespace=ns";
  const std::string datum = "&MetricData.member.1.MetricName=m&MetricData.member.1.Dimensions.member.1.Name=a&MetricData.member.1.Dimensions."
                            "member.1.Value=b&MetricData.member.1.Timestamp=2026-12-06T14%3A00%3A00Z&MetricData.member.1.Value=1";
  switch (mode % 12) {
    case 0: return fuzz;
    case 1: return "Action=PutMetricData&Namespace=" + fuzz + datum;
    case 2: return head + "&MetricData.member.1.MetricName=" + fuzz + "&MetricData.member.1.Value=1";
    case 3: return head + "&MetricData.member.1.MetricName=m&MetricData.member.1.Dimensions.member.1.Name=" + fuzz +
                   "&MetricData.member.1.Dimensions.member.1.Value=v";
    case 4: return head + "&MetricData.member.1.MetricName=m&MetricData.member.1.Value=" + fuzz + "&MetricData.member.1.Values.member.1=" + fuzz;
    case 5: return head + "&MetricData.member.1.MetricName=m&MetricData.member.1.Timestamp=" + fuzz;
    case 6: return head + "&MetricData.member.1.MetricName=m&MetricData.member.1.StorageResolution=" + fuzz + "&MetricData.member.1.Unit=" + fuzz;
    case 7: return head + datum + "&MetricData.member.1." + fuzz;
    case 8: return head + datum + "&MetricData.member." + fuzz;
    case 9: return head + "&MetricData.member.1.MetricName=m&MetricData.member.1.Dimensions." + fuzz;
    case 10: return head + "&MetricData.member.1.MetricName=m&MetricData.member.1.StatisticValues.SampleCount=1&MetricData.member.1."
                           "StatisticValues.Sum=2&MetricData.member.1.StatisticValues." + fuzz;
    default: return head + datum + "&" + fuzz;
  }
}

bool same(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }
bool same(const std::optional<double>& a, const std::optional<double>& b) { return a.has_value() == b.has_value() && (!a || same(*a, *b)); }
bool same(const std::optional<std::vector<double>>& a, const std::optional<std::vector<double>>& b) {
  if (a.has_value() != b.has_value()) return false;
  if (!a) return true;
  if (a->size() != b->size()) return false;
  for (size_t i = 0; i < a->size(); ++i)
    if (!same((*a)[i], (*b)[i])) return false;
  return true;
}

// Equal, and every double the same bits (== would take -0 for 0).
bool identical(const cloudwatch::PutMetricDataInput& a, const cloudwatch::PutMetricDataInput& b) {
  if (!(a == b)) return false;
  if (!a.metric_data) return true;
  for (size_t i = 0; i < a.metric_data->size(); ++i) {
    const auto& x = (*a.metric_data)[i];
    const auto& y = (*b.metric_data)[i];
    if (!same(x.timestamp_s, y.timestamp_s) || !same(x.value, y.value) || !same(x.values, y.values) || !same(x.counts, y.counts)) return false;
    if (x.statistic_values && (!same(x.statistic_values->sample_count, y.statistic_values->sample_count) ||
                               !same(x.statistic_values->sum, y.statistic_values->sum) ||
                               !same(x.statistic_values->minimum, y.statistic_values->minimum) ||
                               !same(x.statistic_values->maximum, y.statistic_values->maximum)))
      return false;
  }
  return true;
}

// QueryCodec::resolve_operation (which scans for Action without building the parameter list)
// against the list it replaced: the last Action of request_params decides.
void check_resolve_operation(const Fixture& fx, HttpRequest request) {
  for (int variant = 0; variant < 2; ++variant) {
    if (variant == 1) {  // the same text as the query string, then a body of its own
      request.query = request.body;
      request.body = "x=1&Action=ListMetrics";
    }
    const std::string* action = nullptr;
    protocol::FormParams params = protocol::QueryCodec::request_params(request);
    for (const auto& p : params)
      if (p.first == "Action") action = &p.second;
    std::string expected;
    if (!action || action->empty()) {
      expected = "MissingAction: Missing Action";
    } else if (const protocol::Operation* op = fx.model->operation(*action)) {
      expected = "op " + op->name;
    } else {
      // Through AwsError, as resolve_operation's (its message ends at a NUL byte).
      expected = "InvalidAction: " + AwsError("InvalidAction", "Could not find operation " + action->substr(0, 128) + " for version " +
                                                                    fx.model->api_version).message();
    }
    std::string got;
    try {
      got = "op " + fx.codec->resolve_operation(request).name;
    } catch (const AwsError& e) {
      got = e.code() + ": " + e.message();
    }
    if (got != expected) std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Fixture fx;
  if (size < 1 || size > 256 * 1024) return 0;
  std::string body = body_for(data[0], std::string(reinterpret_cast<const char*>(data + 1), size - 1));

  cloudwatch::PutMetricDataInput fast;
  bool accepted = cloudwatch::decode_put_metric_data_query(body, fast);
  bool accepted_reused = cloudwatch::decode_put_metric_data_query(body, fx.reused);
  if (accepted != accepted_reused || (accepted && !identical(fast, fx.reused))) std::abort();  // stale state survived a reuse

  HttpRequest request;
  request.method = "POST";
  request.path = "/";
  request.headers = {{"content-type", "application/x-www-form-urlencoded; charset=utf-8"}};
  request.body = body;
  if (data[0] % 12 == 0) check_resolve_operation(fx, request);
  cloudwatch::PutMetricDataInput generic;
  try {
    Value input = fx.codec->decode_request(request, *fx.operation);
    protocol::validate_input(input, fx.operation->input, "ValidationError");
    generic = cloudwatch::put_metric_data_input(input);
  } catch (const AwsError&) {
    if (accepted) std::abort();  // the fast decoder accepted a body the generic path rejects
    return 0;
  }
  if (accepted && !identical(fast, generic)) std::abort();  // accepted, but decoded differently
  return 0;
}
