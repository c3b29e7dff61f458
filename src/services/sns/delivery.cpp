#include "services/sns/delivery.h"

#include "core/url.h"

#include <openssl/ssl.h>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <optional>

namespace vigil::sns {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

namespace {

using Url = HttpUrl;

template <class Stream>
HttpResult exchange(Stream& stream, const Url& url, const Outbound& message) {
  bhttp::request<bhttp::string_body> req{bhttp::verb::post, url.target, 11};
  bool default_port = url.port == (url.https ? "443" : "80");
  std::string host = url.host.find(':') != std::string::npos ? "[" + url.host + "]" : url.host;
  req.set(bhttp::field::host, default_port ? host : host + ":" + url.port);
  req.set(bhttp::field::content_type, message.content_type);
  for (const auto& [k, v] : message.headers) req.set(k, v);
  req.body() = message.body;
  req.prepare_payload();
  bhttp::write(stream, req);
  beast::flat_buffer buffer;
  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(1 << 20);
  bhttp::read(stream, buffer, parser);
  return HttpResult{static_cast<int>(parser.get().result_int()), {}};
}

double steady_now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

}  // namespace

HttpResult http_post(const Outbound& message, bool verify_tls, int timeout_seconds) {
  auto url = parse_http_url(message.url);
  if (!url) return HttpResult{0, "invalid endpoint URL"};
  try {
    asio::io_context io;
    tcp::resolver resolver(io);
    auto endpoints = resolver.resolve(url->host, url->port);
    auto timeout = std::chrono::seconds(timeout_seconds);
    if (!url->https) {
      beast::tcp_stream stream(io);
      stream.expires_after(timeout);
      stream.connect(endpoints);
      HttpResult r = exchange(stream, *url, message);
      beast::error_code ec;
      stream.socket().shutdown(tcp::socket::shutdown_both, ec);
      return r;
    }
    asio::ssl::context ctx(asio::ssl::context::tls_client);
    if (verify_tls) {
      ctx.set_default_verify_paths();
      ctx.set_verify_mode(asio::ssl::verify_peer);
    } else {
      ctx.set_verify_mode(asio::ssl::verify_none);
    }
    beast::ssl_stream<beast::tcp_stream> stream(io, ctx);
    if (!SSL_set_tlsext_host_name(stream.native_handle(), url->host.c_str())) return HttpResult{0, "cannot set SNI"};
    if (verify_tls) stream.set_verify_callback(asio::ssl::host_name_verification(url->host));
    beast::get_lowest_layer(stream).expires_after(timeout);
    beast::get_lowest_layer(stream).connect(endpoints);
    stream.handshake(asio::ssl::stream_base::client);
    HttpResult r = exchange(stream, *url, message);
    beast::error_code ec;
    stream.shutdown(ec);
    return r;
  } catch (const std::exception& e) {
    return HttpResult{0, e.what()};
  }
}

Delivery::Delivery() {
  const char* insecure = std::getenv("VIGIL_SNS_INSECURE_TLS");
  verify_tls = !(insecure && std::string(insecure) == "1");
}

Delivery::~Delivery() { stop(); }

void Delivery::start() {
  std::lock_guard lock(mutex_);
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] { run(); });
}

void Delivery::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    while (!queue_.empty()) queue_.pop();
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Delivery::enqueue(Outbound message) {
  {
    std::lock_guard lock(mutex_);
    queue_.push(Item{steady_now(), ++seq_, 0, std::move(message)});
  }
  cv_.notify_all();
}

void Delivery::run() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    if (queue_.empty()) {
      cv_.wait(lock);
      continue;
    }
    double wait = queue_.top().due - steady_now();
    if (wait > 0) {
      cv_.wait_for(lock, std::chrono::duration<double>(wait));
      continue;
    }
    Item item = queue_.top();
    queue_.pop();
    lock.unlock();
    HttpResult r = http_post(item.message, verify_tls, timeout_seconds);
    lock.lock();
    ++item.attempt;
    if (r.status >= 200 && r.status < 300) continue;
    int retries = item.message.num_retries;
    if (item.attempt > retries) {
      std::fprintf(stderr, "vigil: sns: giving up on %s after %d attempts (%s)\n", item.message.url.c_str(), item.attempt,
                   r.status ? ("HTTP " + std::to_string(r.status)).c_str() : r.error.c_str());
      continue;
    }
    // Linear backoff from minDelayTarget (first retry) to maxDelayTarget (last retry).
    double delay = item.message.min_delay;
    if (retries > 1) delay += (item.message.max_delay - item.message.min_delay) * (item.attempt - 1) / (retries - 1);
    item.due = steady_now() + delay;
    item.seq = ++seq_;
    queue_.push(std::move(item));
  }
}

}  // namespace vigil::sns
