// The HTTP/1.1 listener (Boost.Beast). Network I/O runs on one I/O thread that never
// blocks; each parsed request is handed to a worker pool (handlers may wait on an fsync) and
// the response is written back on the connection's I/O thread.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "core/http_message.h"

namespace vigil::http {

struct ServerOptions {
  std::string host = "127.0.0.1";
  unsigned short port = 4566;
  int worker_threads = 128;            // handlers block on group-committed fsyncs: enough to fill a group
  size_t max_body_bytes = 64u << 20;   // larger bodies get 413
};

using RequestHandler = std::function<HttpResponse(const HttpRequest&)>;

class HttpServer {
 public:
  HttpServer(ServerOptions options, RequestHandler handler);
  ~HttpServer();
  // Binds and listens; throws std::runtime_error (e.g. "address already in use").
  void listen();
  unsigned short bound_port() const;
  // Serves until stop() (from any thread or a signal handler thread).
  void run();
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace vigil::http
