#include "http/http_server.h"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <fcntl.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <algorithm>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <limits>
#include <optional>
#include <cstdio>
#include <stdexcept>
#include <thread>
#include <vector>

#include "core/ids.h"
#include "http/worker_pool.h"

namespace vigil::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
// All network I/O runs on ONE thread, so a connection needs no strand: its handlers can never
// run concurrently. Executors are named by their concrete type: beast::tcp_stream's
// type-erased executor (any_io_executor) and a strand each cost shared_ptr copies (atomic
// operations) at every completion and post, several times per request (~7% of a
// PutLogEvents call). Measured on 2 cores, one I/O thread beats two: HTTP parsing is cheap
// next to the handlers, which run on the worker pool.
using Executor = asio::io_context::executor_type;
using Socket = asio::basic_stream_socket<tcp, Executor>;
using Stream = beast::basic_stream<tcp, Executor>;

namespace {

// The request line and headers, without the body.
HttpRequest head_of(const bhttp::request_header<>& in, const std::string& remote) {
  HttpRequest out;
  out.method = std::string(in.method_string());
  std::string_view target(in.target().data(), in.target().size());
  size_t q = target.find('?');
  out.path = std::string(target.substr(0, q));
  if (q != std::string_view::npos) out.query = std::string(target.substr(q + 1));
  out.headers.reserve(std::distance(in.begin(), in.end()));
  for (const auto& field : in) {
    std::string name(field.name_string());
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
    out.headers.emplace_back(std::move(name), std::string(field.value()));
  }
  out.remote_address = remote;
  return out;
}

HttpRequest to_request(bhttp::request<bhttp::string_body>&& in, const std::string& remote) {
  HttpRequest out = head_of(in, remote);
  out.body = std::move(in.body());
  return out;
}

// An OpenSSL digest computed as a body streams in.
class StreamDigest {
 public:
  explicit StreamDigest(const EVP_MD* md) : ctx_(EVP_MD_CTX_new()) {
    if (!ctx_ || EVP_DigestInit_ex(ctx_, md, nullptr) != 1) throw std::runtime_error("cannot start a digest");
  }
  ~StreamDigest() { EVP_MD_CTX_free(ctx_); }
  StreamDigest(const StreamDigest&) = delete;
  StreamDigest& operator=(const StreamDigest&) = delete;
  void update(const char* data, size_t size) { EVP_DigestUpdate(ctx_, data, size); }
  std::string finish() {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_DigestFinal_ex(ctx_, digest, &len);
    return std::string(reinterpret_cast<const char*>(digest), len);
  }

 private:
  EVP_MD_CTX* ctx_;
};

bhttp::response<bhttp::string_body> to_beast(HttpResponse&& in, unsigned version, bool keep_alive) {
  bhttp::response<bhttp::string_body> out{static_cast<bhttp::status>(in.status), version};
  out.set(bhttp::field::server, "vigil");
  bool declared_length = false;
  for (auto& [k, v] : in.headers) {
    declared_length = declared_length || beast::iequals(k, "content-length");
    out.set(k, v);
  }
  // A bodiless answer that declares its length (S3 HeadObject: the object's size) keeps it.
  const bool keep_length = declared_length && in.body.empty();
  out.body() = std::move(in.body);
  out.keep_alive(keep_alive);
  if (!keep_length) out.prepare_payload();
  return out;
}

}  // namespace

struct HttpServer::Impl {
  ServerOptions options;
  RequestHandler handler;
  asio::io_context io{1};
  WorkerPool workers{static_cast<size_t>(options.worker_threads)};
  tcp::acceptor acceptor{io};

  Impl(ServerOptions o, RequestHandler h) : options(std::move(o)), handler(std::move(h)) {}

  class Session : public std::enable_shared_from_this<Session> {
   public:
    Session(Socket socket, Impl& server) : stream_(std::move(socket)), server_(server) {
      beast::error_code ec;
      auto endpoint = stream_.socket().remote_endpoint(ec);
      if (!ec) remote_ = endpoint.address().to_string();
    }
    void start() { read_header(); }

   private:
    void read_header() {
      // An idle connection keeps a small buffer, not the last big body's.
      if (buffer_.size() == 0 && buffer_.capacity() > kLargeReadBytes) buffer_.shrink_to_fit();
      parser_.emplace();
      // Beast holds a Content-Length against the body limit while it parses the header, but
      // the limit depends on the request (5 GB for a spooled S3 upload): on_header sets it.
      parser_->body_limit(std::numeric_limits<uint64_t>::max());  // (boost::none compares as below any length in Boost 1.74)
      parser_->header_limit(64 * 1024);
      stream_.expires_after(std::chrono::seconds(120));
      bhttp::async_read_header(stream_, buffer_, *parser_, [self = shared_from_this()](beast::error_code ec, size_t) { self->on_header(ec); });
    }

    void on_header(beast::error_code ec) {
      if (ec) return fail(ec);
      auto& header = parser_->get();
      bool spooling = false;
      if (header.method() == bhttp::verb::put && server_.options.spool_plan) {
        BodyRoute route = start_spool();
        if (route == BodyRoute::Refused) return;
        spooling = route == BodyRoute::Spool;
      }
      if (!spooling) {
        if (auto length = parser_->content_length(); length && *length > server_.options.max_body_bytes)
          return reply_error(413, "Request body too large");  // before the body, and without a 100 Continue
        parser_->body_limit(server_.options.max_body_bytes);  // a chunked body is counted as it comes
      }
      // (A spooled request's header now lives in the spool's parser.)
      const bhttp::request_header<>& header_after = spooling ? static_cast<const bhttp::request_header<>&>(spool_->parser->get())
                                                             : static_cast<const bhttp::request_header<>&>(parser_->get());
      auto expect = header_after[bhttp::field::expect];
      if (beast::iequals(expect, "100-continue")) {
        // Clients that ask (S3 uploads) wait for this before sending the body.
        auto cont = std::make_shared<bhttp::response<bhttp::empty_body>>(bhttp::status::continue_, header_after.version());
        bhttp::async_write(stream_, *cont, [self = shared_from_this(), cont, spooling](beast::error_code ec2, size_t) {
          if (ec2) return self->fail(ec2);
          spooling ? self->spool_read() : self->read_body();
        });
        return;
      }
      spooling ? spool_read() : read_body();
    }

    // ---- bodies spooled to a file (S3 uploads) ----------------------------------------------
    // The I/O thread reads up to kSpoolChunkBytes of body into the spool's buffer, a worker
    // writes them to the spool file (and feeds the digests the plan asked for), then the I/O
    // thread reads the next block: neither a disk write nor a hash ever runs on the I/O thread,
    // and while the worker writes, the kernel's socket buffer keeps receiving. Memory per
    // upload: the one buffer (1 MiB) plus two digest contexts, whatever the body's size. The
    // worker writes into the page cache and starts its write-back every kSpoolSyncBytes
    // (sync_file_range, no waiting) so dirty pages do not pile up; the handler that keeps the
    // file makes it durable (fsync before the rename), as for any object file.
    struct Spool {
      std::optional<bhttp::request_parser<bhttp::buffer_body>> parser;
      SpoolPlan plan;
      HttpRequest head;
      std::vector<char> buffer;
      std::shared_ptr<RequestBodyFile> file;
      uint64_t size = 0, written_back = 0;
      std::optional<StreamDigest> md5, sha256;
    };

    enum class BodyRoute { Memory, Spool, Refused };
    // On the I/O thread, with the header read: where the body goes. Refused: it is too large
    // by its declared length, answered before a byte of it is read (nor a 100 Continue sent).
    BodyRoute start_spool() {
      HttpRequest head = head_of(parser_->get(), remote_);
      std::optional<SpoolPlan> plan = server_.options.spool_plan(head);
      if (!plan) return BodyRoute::Memory;
      if (auto length = parser_->content_length(); length && *length > plan->max_bytes) {
        write(std::make_shared<bhttp::response<bhttp::string_body>>(to_beast(std::move(plan->too_large), parser_->get().version(), false)));
        return BodyRoute::Refused;
      }
      spool_ = std::make_shared<Spool>();
      spool_->plan = std::move(*plan);
      spool_->head = std::move(head);
      spool_->head.head_authenticated_ms = spool_->plan.head_authenticated_ms;
      spool_->parser.emplace(std::move(*parser_));
      spool_->parser->body_limit(spool_->plan.max_bytes);
      parser_.reset();
      if (spool_->plan.md5) spool_->md5.emplace(EVP_md5());
      if (spool_->plan.sha256) spool_->sha256.emplace(EVP_sha256());
      spool_->buffer.resize(kSpoolChunkBytes);
      buffer_.reserve(kLargeReadBytes);  // Beast's largest single read, as for big bodies in memory
      return BodyRoute::Spool;
    }

    // On the I/O thread: the next block of the body into the buffer.
    void spool_read() {
      auto& body = spool_->parser->get().body();
      body.data = spool_->buffer.data();
      body.size = spool_->buffer.size();
      body.more = true;
      // The deadline covers one block, not the whole (possibly gigabytes long) body.
      stream_.expires_after(std::chrono::seconds(120));
      bhttp::async_read(stream_, buffer_, *spool_->parser, [self = shared_from_this()](beast::error_code ec, size_t) { self->on_spool_read(ec); });
    }

    void on_spool_read(beast::error_code ec) {
      // need_buffer: the block is full and more body follows.
      if (ec == bhttp::error::need_buffer) ec = {};
      if (ec == bhttp::error::body_limit) {
        auto spool = std::move(spool_);  // drops the partial file
        return write(std::make_shared<bhttp::response<bhttp::string_body>>(to_beast(std::move(spool->plan.too_large), 11, false)));
      }
      if (ec) {
        spool_.reset();
        return fail(ec);
      }
      const size_t got = spool_->buffer.size() - spool_->parser->get().body().size;
      const bool done = spool_->parser->is_done();
      server_.workers.post([self = shared_from_this(), got, done] { self->spool_write(got, done); });
    }

    // On a worker thread.
    void spool_write(size_t got, bool done) {
      Spool& spool = *spool_;
      try {
        if (!spool.file) {
          std::string path = server_.options.spool_dir + "/" + new_uuid() + ".body";
          int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
          if (fd < 0 && errno == ENOENT) {  // the directory went away (a reset): make it again
            ::mkdir(server_.options.spool_dir.c_str(), 0755);
            fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
          }
          if (fd < 0) throw std::runtime_error("cannot create a spool file in " + server_.options.spool_dir + ": " + std::strerror(errno));
          spool.file = std::make_shared<RequestBodyFile>(fd, std::move(path));
          if (spool.plan.transform) spool.file->set_transform(spool.plan.transform, spool.plan.transform_tag);
          if (spool.plan.digest) spool.file->set_digest(spool.plan.digest);
        }
        char* data = spool.buffer.data();
        // Digests over the body as received, then encryption (if the plan asks) in place.
        if (spool.md5) spool.md5->update(data, got);
        if (spool.sha256) spool.sha256->update(data, got);
        if (spool.plan.digest) spool.plan.digest->update(data, got);
        if (spool.plan.transform) spool.plan.transform(data, got, spool.size);
        for (size_t done_bytes = 0; done_bytes < got;) {
          ssize_t n = ::write(spool.file->fd(), data + done_bytes, got - done_bytes);
          if (n < 0 && errno == EINTR) continue;
          if (n < 0) throw std::runtime_error(std::string("cannot write a spool file: ") + std::strerror(errno));
          done_bytes += static_cast<size_t>(n);
        }
        spool.size += got;
        if (spool.size - spool.written_back >= kSpoolSyncBytes) {
          ::sync_file_range(spool.file->fd(), static_cast<off_t>(spool.written_back), static_cast<off_t>(spool.size - spool.written_back), SYNC_FILE_RANGE_WRITE);
          spool.written_back = spool.size;
        }
      } catch (const std::exception& e) {
        std::fprintf(stderr, "vigil: %s\n", e.what());
        return asio::post(stream_.get_executor(), [self = shared_from_this()] {
          self->spool_.reset();
          self->reply_error(500, "The request body could not be stored");
        });
      }
      if (!done) return asio::post(stream_.get_executor(), [self = shared_from_this()] { self->spool_read(); });
      spool.file->set_complete(spool.size, spool.md5 ? spool.md5->finish() : std::string(), spool.sha256 ? spool.sha256->finish() : std::string());
      const unsigned version = spool.parser->get().version();
      const bool keep_alive = spool.parser->get().keep_alive();
      auto request = std::make_shared<HttpRequest>(std::move(spool.head));
      request->body_file = std::move(spool.file);
      spool_.reset();
      respond(std::move(request), version, keep_alive);
    }

    void read_body() {
      // Beast reads at most the buffer's free capacity per recv (it starts near the header's
      // size), so a 265 KB body took hundreds of syscalls on the one I/O thread, which became
      // the bottleneck of big PutMetricData calls. Room for 64 KB (Beast's largest single
      // read) makes that a handful; it is released again after a big body (read_header).
      if (auto length = parser_->content_length(); length && *length > 8 * 1024)
        buffer_.reserve(static_cast<size_t>(std::min<uint64_t>(*length, kLargeReadBytes)));
      bhttp::async_read(stream_, buffer_, *parser_, [self = shared_from_this()](beast::error_code ec, size_t) { self->on_read(ec); });
    }

    void on_read(beast::error_code ec) {
      if (ec == bhttp::error::body_limit) return reply_error(413, "Request body too large");
      if (ec) return fail(ec);
      auto request = parser_->release();
      unsigned version = request.version();
      bool keep_alive = request.keep_alive();
      auto converted = std::make_shared<HttpRequest>(to_request(std::move(request), remote_));
      server_.workers.post([self = shared_from_this(), converted, version, keep_alive] { self->respond(converted, version, keep_alive); });
    }

    // On a worker thread: runs the handler and hands its answer to the I/O thread.
    void respond(std::shared_ptr<HttpRequest> request, unsigned version, bool keep_alive) {
      HttpResponse response = server_.handler(*request);
      request.reset();  // a spool file the handler did not keep is removed now, not at the next request
      if (response.file_body) return start_file_transfer(std::move(response), version, keep_alive);
      auto beast_response = std::make_shared<bhttp::response<bhttp::string_body>>(to_beast(std::move(response), version, keep_alive));
      asio::post(stream_.get_executor(), [self = shared_from_this(), beast_response] { self->write(beast_response); });
    }

    void write(std::shared_ptr<bhttp::response<bhttp::string_body>> response) {
      bhttp::async_write(stream_, *response, [self = shared_from_this(), response](beast::error_code ec, size_t) {
        if (ec) return self->fail(ec);
        if (response->need_eof()) {
          beast::error_code ignored;
          self->stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
          return;
        }
        self->read_header();
      });
    }

    // A file-backed response body (S3 GetObject) goes out in chunks of kFileChunkBytes: a
    // worker reads a chunk (a disk read may block, the I/O thread must not), the I/O thread
    // writes it, and only then is the next one read. One chunk buffer per transfer is all the
    // memory a download of any size takes.
    struct FileTransfer {
      bhttp::response<bhttp::buffer_body> message;
      std::optional<bhttp::response_serializer<bhttp::buffer_body>> serializer;
      std::shared_ptr<const FileBody> file;
      uint64_t read = 0;  // bytes of the range read so far
      std::vector<char> chunk;
    };

    // On a worker thread.
    void start_file_transfer(HttpResponse&& response, unsigned version, bool keep_alive) {
      auto transfer = std::make_shared<FileTransfer>();
      auto& message = transfer->message;
      message.version(version);
      message.result(static_cast<bhttp::status>(response.status));
      message.set(bhttp::field::server, "vigil");
      for (auto& [k, v] : response.headers) message.set(k, v);
      // A declared length, never chunked encoding: clients check it against Content-Length.
      message.content_length(response.file_body->length());
      message.keep_alive(keep_alive);
      transfer->file = std::move(response.file_body);
      transfer->chunk.resize(static_cast<size_t>(std::min<uint64_t>(kFileChunkBytes, transfer->file->length())));
      transfer->serializer.emplace(message);
      read_file_chunk(std::move(transfer));
    }

    // On a worker thread: fills the chunk buffer, then hands it to the I/O thread.
    void read_file_chunk(std::shared_ptr<FileTransfer> transfer) {
      const FileBody& file = *transfer->file;
      const size_t want = static_cast<size_t>(std::min<uint64_t>(transfer->chunk.size(), file.length() - transfer->read));
      size_t got = 0;
      while (got < want) {
        ssize_t n = ::pread(file.fd(), transfer->chunk.data() + got, want - got, static_cast<off_t>(file.offset() + transfer->read + got));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        got += static_cast<size_t>(n);
      }
      if (got != want) {
        // The headers (with the length) may be out already: the only honest signal left is
        // to close the connection, which the client sees as a short body.
        std::fprintf(stderr, "vigil: cannot read a response body file\n");
        return asio::post(stream_.get_executor(), [self = shared_from_this()] { self->abort_connection(); });
      }
      // Decrypted here, on the worker, like the read: the I/O thread only writes.
      if (file.transform()) file.transform()(transfer->chunk.data(), got, file.offset() + transfer->read);
      transfer->read += got;
      auto& body = transfer->message.body();
      body.data = transfer->chunk.data();
      body.size = got;
      body.more = transfer->read < file.length();
      asio::post(stream_.get_executor(), [self = shared_from_this(), transfer = std::move(transfer)]() mutable { self->write_file_chunk(std::move(transfer)); });
    }

    // On the I/O thread.
    void write_file_chunk(std::shared_ptr<FileTransfer> transfer) {
      // The deadline covers one chunk, not the whole (possibly gigabytes long) body.
      stream_.expires_after(std::chrono::seconds(120));
      auto& serializer = *transfer->serializer;
      bhttp::async_write(stream_, serializer, [self = shared_from_this(), transfer](beast::error_code ec, size_t) mutable {
        // need_buffer: this chunk is out and the body says more follows.
        if (ec == bhttp::error::need_buffer) ec = {};
        if (ec) return self->fail(ec);
        if (!transfer->serializer->is_done()) {
          auto* server = &self->server_;
          return server->workers.post([self = std::move(self), transfer = std::move(transfer)]() mutable { self->read_file_chunk(std::move(transfer)); });
        }
        const bool eof = transfer->message.need_eof();
        transfer.reset();  // closes the file
        if (eof) {
          beast::error_code ignored;
          self->stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
          return;
        }
        self->read_header();
      });
    }

    void abort_connection() {
      beast::error_code ignored;
      stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
      stream_.socket().close(ignored);
    }

    void reply_error(int status, const char* message) {
      HttpResponse response;
      response.status = status;
      response.set_header("Content-Type", "application/json");
      response.body = std::string("{\"__type\":\"") + (status == 413 ? "RequestEntityTooLarge" : "BadRequest") + "\",\"message\":\"" + message + "\"}";
      auto beast_response = std::make_shared<bhttp::response<bhttp::string_body>>(to_beast(std::move(response), 11, false));
      write(beast_response);
    }

    void fail(beast::error_code ec) {
      if (ec == bhttp::error::end_of_stream || ec == asio::error::operation_aborted || ec == beast::error::timeout ||
          ec == asio::error::connection_reset || ec == asio::error::eof)
        return;
      // Anything else the HTTP parser rejected: answer 400 once, then close.
      if (ec.category() == beast::http::make_error_code(bhttp::error::bad_target).category()) return reply_error(400, "Malformed HTTP request");
    }

    static constexpr size_t kLargeReadBytes = 64 * 1024;
    static constexpr size_t kSpoolChunkBytes = 1024 * 1024;
    static constexpr uint64_t kSpoolSyncBytes = 8 * 1024 * 1024;
    // 512 KB: few enough hops between the worker and the I/O thread to keep a download at
    // disk speed, small enough that many concurrent downloads stay cheap.
    static constexpr uint64_t kFileChunkBytes = 512 * 1024;
    Stream stream_;
    Impl& server_;
    beast::flat_buffer buffer_;
    std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
    std::shared_ptr<Spool> spool_;  // while a body is being spooled
    std::string remote_;
  };

  void accept() {
    auto socket = std::make_shared<Socket>(io.get_executor());
    acceptor.async_accept(*socket, [this, socket](beast::error_code ec) {
      if (ec == asio::error::operation_aborted) return;
      if (!ec) {
        beast::error_code ignored;
        socket->set_option(tcp::no_delay(true), ignored);
        std::make_shared<Session>(std::move(*socket), *this)->start();
      }
      accept();
    });
  }
};

HttpServer::HttpServer(ServerOptions options, RequestHandler handler) : impl_(std::make_unique<Impl>(std::move(options), std::move(handler))) {}
HttpServer::~HttpServer() { stop(); }

void HttpServer::listen() {
  beast::error_code ec;
  auto address = asio::ip::make_address(impl_->options.host, ec);
  if (ec) throw std::runtime_error("invalid listen address '" + impl_->options.host + "'");
  tcp::endpoint endpoint(address, impl_->options.port);
  impl_->acceptor.open(endpoint.protocol(), ec);
  if (!ec) impl_->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) impl_->acceptor.bind(endpoint, ec);
  if (ec) throw std::runtime_error("cannot listen on " + impl_->options.host + ":" + std::to_string(impl_->options.port) + ": " + ec.message());
  impl_->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) throw std::runtime_error("cannot listen: " + ec.message());
  impl_->accept();
}

unsigned short HttpServer::bound_port() const { return impl_->acceptor.local_endpoint().port(); }

void HttpServer::run() {
  impl_->io.run();
}

void HttpServer::stop() {
  if (!impl_) return;
  asio::post(impl_->io, [this] {
    beast::error_code ignored;
    impl_->acceptor.close(ignored);
  });
  impl_->io.stop();
  impl_->workers.join();
}

}  // namespace vigil::http
