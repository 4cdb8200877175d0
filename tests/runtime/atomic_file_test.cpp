// Atomic file writes: new files, replacement, and failures that must leave the old file intact.
#include "runtime/atomic_file.hpp"
#include "runtime/input_file.hpp"
#include "test_util.hpp"
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <catch2/catch.hpp>

using namespace kiln;
using kiln::test::TempDir;

TEST_CASE("atomic write creates and replaces a file", "[runtime]") {
  TempDir dir;
  std::string p = dir.file("out.bin"), err;
  REQUIRE(write_file_atomic(p, std::string("first\0version", 13), err));
  CHECK(test::get_file(p) == std::string("first\0version", 13));
  REQUIRE(write_file_atomic(p, "second", err));
  CHECK(test::get_file(p) == "second");
  CHECK(dir.entries() == 1);  // no temporary left behind
  std::string back;
  REQUIRE(read_file(p, back, err));
  CHECK(back == "second");
}

TEST_CASE("atomic write failures leave the old file untouched", "[runtime]") {
  TempDir dir;
  std::string p = dir.file("params.safetensors"), err;
  test::put_file(p, "old contents");

  SECTION("failure in the middle of writing (disk full)") {
    CHECK_FALSE(write_file_atomic(p, "new contents that are longer", err, AtomicFault::after_partial_write));
    CHECK(err == p + ": cannot write: No space left on device");
  }
  SECTION("failure just before the rename") {
    CHECK_FALSE(write_file_atomic(p, "new contents", err, AtomicFault::before_rename));
    CHECK(err == p + ": cannot write: Input/output error");
  }
  CHECK(test::get_file(p) == "old contents");
  CHECK(dir.entries() == 1);  // the temporary file was removed
}

TEST_CASE("atomic write over a directory fails cleanly", "[runtime]") {
  TempDir dir;
  std::string sub = dir.file("sub"), err;
  std::filesystem::create_directory(sub);
  test::put_file(sub + "/keep", "x");
  CHECK_FALSE(write_file_atomic(sub, "data", err));
  CHECK(err == sub + ": cannot write: Is a directory");
  CHECK(std::filesystem::is_directory(sub));
  CHECK(test::get_file(sub + "/keep") == "x");
  CHECK(dir.entries() == 1);
}

TEST_CASE("atomic write into a missing directory reports it", "[runtime]") {
  TempDir dir;
  std::string p = dir.file("missing/out.csv"), err;
  CHECK_FALSE(write_file_atomic(p, "data", err));
  CHECK(err == p + ": cannot write: No such file or directory");
}

TEST_CASE("read_file errors", "[runtime]") {
  TempDir dir;
  std::string out, err;
  CHECK_FALSE(read_file(dir.file("nope"), out, err));
  CHECK(err == dir.file("nope") + ": cannot read: No such file or directory");
  CHECK_FALSE(read_file(dir.path.string(), out, err));
  CHECK(err == dir.path.string() + ": cannot read: Is a directory");
}

TEST_CASE("atomic write keeps the permissions of the replaced file", "[runtime]") {
  TempDir dir;
  std::string p = dir.file("a"), q = dir.file("b"), err;
  test::put_file(p, "old");
  std::filesystem::permissions(p, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  REQUIRE(write_file_atomic(p, "new", err));
  CHECK(std::filesystem::status(p).permissions() ==
        (std::filesystem::perms::owner_read | std::filesystem::perms::owner_write));
  REQUIRE(write_file_atomic(q, "new", err));
  using P = std::filesystem::perms;
  CHECK(std::filesystem::status(q).permissions() == (P::owner_read | P::owner_write | P::group_read | P::others_read));
}

TEST_CASE("atomic write goes through symlinks and refuses special files", "[runtime]") {
  TempDir dir;
  namespace fs = std::filesystem;
  std::string err;
  // A symlink: its target is replaced, the link stays a link.
  test::put_file(dir.file("real"), "old");
  fs::create_symlink("real", dir.file("link"));
  REQUIRE(write_file_atomic(dir.file("link"), "new", err));
  CHECK(fs::is_symlink(dir.file("link")));
  CHECK(test::get_file(dir.file("real")) == "new");
  // A dangling symlink: its target is created.
  fs::create_symlink("sub/../made", dir.file("dangling"));
  fs::create_directory(dir.file("sub"));
  REQUIRE(write_file_atomic(dir.file("dangling"), "made", err));
  CHECK(fs::is_symlink(dir.file("dangling")));
  CHECK(test::get_file(dir.file("made")) == "made");
  // A FIFO, directly or through a symlink, is refused and left as it is.
  REQUIRE(::mkfifo(dir.file("fifo").c_str(), 0600) == 0);
  fs::create_symlink("fifo", dir.file("to_fifo"));
  for (const char* name : {"fifo", "to_fifo"}) {
    CHECK_FALSE(write_file_atomic(dir.file(name), "x", err));
    CHECK(err == dir.file(name) + ": cannot write: not a regular file (a FIFO)");
  }
  CHECK(fs::is_fifo(dir.file("fifo")));
  // A character device through a symlink (the device is only looked at).
  fs::create_symlink("/dev/null", dir.file("to_null"));
  CHECK_FALSE(write_file_atomic(dir.file("to_null"), "x", err));
  CHECK(err == dir.file("to_null") + ": cannot write: not a regular file (a character device)");
  CHECK(fs::is_symlink(dir.file("to_null")));
  // A loop of symlinks.
  fs::create_symlink("loop_b", dir.file("loop_a"));
  fs::create_symlink("loop_a", dir.file("loop_b"));
  CHECK_FALSE(write_file_atomic(dir.file("loop_a"), "x", err));
  CHECK(err == dir.file("loop_a") + ": cannot write: Too many levels of symbolic links");
  CHECK_FALSE(write_file_atomic("", "x", err));
  CHECK(err == "cannot write a file with an empty name");
}

TEST_CASE("a save removes the temporaries interrupted saves of its target left and no other file", "[runtime]") {
  TempDir dir;
  namespace fs = std::filesystem;
  std::string p = dir.file("p.safetensors"), err;
  // Left by killed saves: unlocked temporaries of this target.
  for (const char* t : {".tmp-Ab12Cd", ".tmp-zzzzzz"}) test::put_file(p + t, "half a checkpoint");
  // A live writer's temporary: locked (flock, as write_file_atomic holds its own).
  std::string live = p + ".tmp-L1ve00";
  test::put_file(live, "being written");
  int held = ::open(live.c_str(), O_RDWR);
  REQUIRE(held >= 0);
  REQUIRE(::flock(held, LOCK_EX) == 0);
  // Names that are not temporaries of this target, a symlink and a directory with a
  // temporary's name: all kept.
  std::vector<std::string> kept = {p + ".tmp-Ab12C", p + ".tmp-Ab12Cde", p + ".tmp-Ab12C!", dir.file("q.safetensors.tmp-Ab12Cd"),
                                   dir.file("xp.safetensors.tmp-Ab12Cd")};
  for (auto& k : kept) test::put_file(k, "other");
  test::put_file(dir.file("elsewhere"), "target of a link");
  fs::create_symlink("elsewhere", p + ".tmp-Link00");
  fs::create_directory(p + ".tmp-Dir000");

  REQUIRE(write_file_atomic(p, "new", err));
  CHECK(test::get_file(p) == "new");
  CHECK_FALSE(fs::exists(p + ".tmp-Ab12Cd"));
  CHECK_FALSE(fs::exists(p + ".tmp-zzzzzz"));
  CHECK(test::get_file(live) == "being written");
  for (auto& k : kept) CHECK(test::get_file(k) == "other");
  CHECK(fs::is_symlink(p + ".tmp-Link00"));
  CHECK(test::get_file(dir.file("elsewhere")) == "target of a link");
  CHECK(fs::is_directory(p + ".tmp-Dir000"));
  ::close(held);
  // Once its writer is gone, the next save removes it too.
  REQUIRE(write_file_atomic(p, "newer", err));
  CHECK_FALSE(fs::exists(live));
}
