// SNS over the query protocol (XML responses): thin handlers over the Topics model. Also the
// unauthenticated HTTP endpoints SNS has (public_request): the signing certificate at
// /_vigil/sns/SimpleNotificationService-REGION.pem, and unsigned GETs of a message's
// SubscribeURL (?Action=ConfirmSubscription&TopicArn=..&Token=..) and UnsubscribeURL
// (?Action=Unsubscribe&SubscriptionArn=..). Operations not handled here (platform
// applications, SMS, permissions, PublishBatch, data protection) answer InvalidAction.
#pragma once

#include <optional>

#include "server/service.h"
#include "services/sns/topics.h"

namespace vigil::sns {

class SnsService : public server::Service {
 public:
  explicit SnsService(Topics& topics);
  std::string validation_error_code() const override { return "InvalidParameterException"; }
  AwsError unsupported_operation(const std::string& operation) const override {
    return AwsError("InvalidAction", "Vigil does not support " + operation + " yet (see docs/coverage.md).", 400);
  }
  void reset() override { topics_.reset(); }
  // Answers the requests above; nullopt for any other request.
  std::optional<HttpResponse> public_request(const HttpRequest& request);

 private:
  Topics& topics_;
};

}  // namespace vigil::sns
