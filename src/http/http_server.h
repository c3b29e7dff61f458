// The HTTP/1.1 listener (Boost.Beast). Network I/O runs on one I/O thread that never
// blocks; each parsed request is handed to a worker pool (handlers may wait on an fsync) and
// the response is written back on the connection's I/O thread. Bodies are read into memory,
// except those ServerOptions::spool_plan sends to a spool file (S3 uploads of up to 5 GB),
// which stream to disk through one bounded buffer per upload.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "core/http_message.h"

namespace vigil::http {

struct ServerOptions {
  std::string host = "127.0.0.1";
  unsigned short port = 4566;
  int worker_threads = 128;            // handlers block on group-committed fsyncs: enough to fill a group
  size_t max_body_bytes = 64u << 20;   // larger bodies get 413 (unless spooled, below)
  // Bodies that may be large (S3 uploads) go to a file in spool_dir instead of memory, when
  // spool_plan answers a plan for the request's head (method, target, headers; no body). It is
  // asked only for PUT requests, so every other request keeps the in-memory path untouched.
  std::string spool_dir;
  std::function<std::optional<SpoolPlan>(const HttpRequest& head)> spool_plan;
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
