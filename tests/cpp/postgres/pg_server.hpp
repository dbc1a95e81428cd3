#pragma once
// A real PostgreSQL server for the tests: initdb into a fresh folder under
// /tmp, postgres on a free loopback port with its socket in that folder,
// stopped (and the folder removed) when the object goes. Never a mock.
// The server binaries come from CRMCORE_PG_BINDIR, else the newest
// /usr/lib/postgresql/<version>/bin (Debian's `postgresql`), else PATH.
#include <arpa/inet.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

namespace crmcore::pgtest {

namespace fs = std::filesystem;

class PgServer {
 public:
  // The folder holding initdb and postgres, or empty when there is none.
  static std::string find_bindir() {
    if (const char* env = std::getenv("CRMCORE_PG_BINDIR")) return has_server(env) ? env : "";
    std::string best;
    int best_version = -1;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator("/usr/lib/postgresql", ec)) {
      std::string bin = (e.path() / "bin").string();
      int version = std::atoi(e.path().filename().c_str());
      if (has_server(bin) && version > best_version) {
        best = bin;
        best_version = version;
      }
    }
    if (!best.empty()) return best;
    for (const char* dir : {"/usr/local/bin", "/usr/bin"})
      if (has_server(dir)) return dir;
    return "";
  }

  // Starts a server; on failure returns false with the reason in `why`.
  bool start(std::string* why) {
    bindir_ = find_bindir();
    if (bindir_.empty()) {
      *why = "no PostgreSQL server binaries (initdb, postgres) found; Debian/Ubuntu: apt-get install postgresql";
      return false;
    }
    char pattern[] = "/tmp/crmcore-pg-XXXXXX";
    if (!mkdtemp(pattern)) return failed(why, "cannot make a temporary folder");
    dir_ = pattern;
    // postgres refuses to run as root: then it runs as the `postgres` user.
    if (geteuid() == 0) {
      const passwd* pw = getpwnam("postgres");
      if (!pw) pw = getpwnam("nobody");
      if (!pw) return failed(why, "running as root and there is no `postgres` user to run the server as");
      uid_ = pw->pw_uid;
      gid_ = pw->pw_gid;
      if (chown(dir_.c_str(), uid_, gid_) != 0) return failed(why, "cannot hand the folder to the server user");
    }
    std::string data = dir_ + "/data";
    int rc = wait_for(spawn({bindir_ + "/initdb", "-D", data, "-A", "trust", "-U", "crm", "-E", "UTF8",
                             "--locale=C", "--no-sync"},
                            dir_ + "/initdb.log"));
    if (rc != 0) return failed(why, "initdb failed; see " + dir_ + "/initdb.log");
    // A free port can be taken by someone else before postgres binds it:
    // then it exits, and we try another.
    for (int attempt = 0; attempt < 5; ++attempt) {
      port_ = free_port();
      pid_ = spawn({bindir_ + "/postgres", "-D", data, "-k", dir_, "-h", "127.0.0.1", "-p", std::to_string(port_),
                    "-F", "-c", "max_connections=30", "-c", "shared_buffers=16MB", "-c", "full_page_writes=off",
                    "-c", "synchronous_commit=off"},
                   dir_ + "/server.log");
      for (int i = 0; i < 600; ++i) {  // up to 60 s
        if (PQping(dsn().c_str()) == PQPING_OK) return true;
        int status = 0;
        if (waitpid(pid_, &status, WNOHANG) == pid_) {
          pid_ = -1;
          break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
      if (pid_ > 0) return failed(why, "postgres did not become ready; see " + dir_ + "/server.log");
    }
    return failed(why, "postgres would not start; see " + dir_ + "/server.log");
  }

  std::string dsn() const {
    return "host=127.0.0.1 port=" + std::to_string(port_) + " user=crm dbname=postgres connect_timeout=10";
  }

  ~PgServer() {
    if (pid_ > 0) {
      kill(pid_, SIGINT);  // fast shutdown: ends sessions, no waiting for clients
      int status = 0;
      waitpid(pid_, &status, 0);
    }
    if (!dir_.empty() && !keep_) {
      std::error_code ec;
      fs::remove_all(dir_, ec);
    }
  }

 private:
  static bool has_server(const std::string& dir) {
    return access((dir + "/initdb").c_str(), X_OK) == 0 && access((dir + "/postgres").c_str(), X_OK) == 0;
  }
  bool failed(std::string* why, const std::string& what) {
    *why = what;
    keep_ = true;  // the logs tell why
    return false;
  }
  static int free_port() {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    socklen_t len = sizeof a;
    bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a);
    getsockname(s, reinterpret_cast<sockaddr*>(&a), &len);
    close(s);
    return ntohs(a.sin_port);
  }
  pid_t spawn(const std::vector<std::string>& argv, const std::string& log) const {
    pid_t pid = fork();
    if (pid != 0) return pid;
    if (geteuid() == 0 && (setgid(gid_) != 0 || setuid(uid_) != 0)) _exit(126);
    // Set after the user change (which clears it): the server dies with the tests.
    prctl(PR_SET_PDEATHSIG, SIGINT);
    int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
    }
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  static int wait_for(pid_t pid) {
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) != pid) return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  std::string bindir_;
  std::string dir_;
  uid_t uid_ = 0;
  gid_t gid_ = 0;
  pid_t pid_ = -1;
  int port_ = 0;
  bool keep_ = false;
};

}  // namespace crmcore::pgtest
