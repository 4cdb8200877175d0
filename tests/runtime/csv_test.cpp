// CSV reader: parsing rules, every error message, real data, and the writer.
#include "runtime/csv.hpp"
#include "test_util.hpp"
#include <sys/stat.h>
#include <catch2/catch.hpp>

using namespace kiln;

static std::string csv_error(const std::string& text) {
  std::string err;
  auto t = parse_csv(text, "data.csv", err);
  CHECK_FALSE(t.has_value());
  return err;
}

TEST_CASE("csv parses numbers in every form", "[runtime]") {
  std::string err;
  auto t = parse_csv("a, b ,\"c\"\r\n1, 2.5 ,-3e2\r\n+4,.5,6E-1\r\n\r\n\n", "data.csv", err);
  REQUIRE(t);
  CHECK(t->columns == std::vector<std::string>{"a", "b", "c"});
  CHECK(t->rows == 2);
  CHECK(t->values == std::vector<double>{1, 2.5, -300, 4, 0.5, 0.6});
  CHECK(t->line_of_row == std::vector<uint32_t>{2, 3});
  CHECK(t->at(1, 2) == 0.6);
}

TEST_CASE("csv without a final newline, quoted cells", "[runtime]") {
  std::string err;
  auto t = parse_csv("x,\"y, z\"\n1,\"2\"", "d.csv", err);
  REQUIRE(t);
  CHECK(t->columns[1] == "y, z");
  CHECK(t->values == std::vector<double>{1, 2});
}

TEST_CASE("csv error messages", "[runtime]") {
  CHECK(csv_error("a,b,c\n1,2,3\n4,5\n") == "data.csv:3: expected 3 columns, found 2");
  CHECK(csv_error("a,b,c\n1,2,3\n4,5,6,7\n") == "data.csv:3: expected 3 columns, found 4");
  CHECK(csv_error("x,y,radius\n1,2,3\n1,2,3\n1,2,3\n1,2,abc\n") == "data.csv:5: column 'radius' (3): 'abc' is not a number");
  CHECK(csv_error("x,y\n1,2\n1, \n") == "data.csv:3: column 'y' (2): empty cell");
  CHECK(csv_error("x,y\n1,nan\n") == "data.csv:2: column 'y' (2): 'nan' is not a number");
  CHECK(csv_error("x,y\n1,1e999\n") == "data.csv:2: column 'y' (2): '1e999' is not a finite number");
  CHECK(csv_error("x,y\n1,2x\n") == "data.csv:2: column 'y' (2): '2x' is not a number");
  CHECK(csv_error("x,y\n1,--2\n") == "data.csv:2: column 'y' (2): '--2' is not a number");
  CHECK(csv_error("") == "data.csv: file is empty");
  CHECK(csv_error("\n \r\n") == "data.csv: file is empty");
  CHECK(csv_error("a,b\r\n") == "data.csv: no data rows after the header");
  CHECK(csv_error("a,b\n1,2\n\n3,4\n") == "data.csv:3: empty line");
  CHECK(csv_error("a,,c\n1,2,3\n") == "data.csv:1: column 2 has no name in the header");
  CHECK(csv_error("1,2\n3,4\n") == "data.csv:1: the first line should be a header of column names, found '1'");
  CHECK(csv_error("a,b\n1,\"2\n") == "data.csv:2: unterminated quote");
}

TEST_CASE("csv file not found", "[runtime]") {
  test::TempDir dir;
  std::string err, p = dir.file("data.csv");
  CHECK_FALSE(read_csv(p, err));
  CHECK(err == p + ": cannot read: No such file or directory");
}

TEST_CASE("csv on rows of the real breast cancer data", "[runtime]") {
  std::string err, p = test::data_path("breast_cancer_head.csv");
  auto t = read_csv(p, err);
  INFO(err);
  REQUIRE(t);
  CHECK(t->cols() == 31);
  CHECK(t->rows == 5);
  CHECK(t->columns.front() == "mean_radius");
  CHECK(t->columns.back() == "malignant");
  CHECK(t->at(0, 0) == 17.99);
  CHECK(t->at(0, 2) == 122.8);
  CHECK(t->at(4, 1) == 14.34);
  CHECK(t->at(4, 30) == 1);

  // The same file with CRLF line ends parses to the same table.
  std::string text = test::get_file(p), crlf;
  for (char c : text) crlf += c == '\n' ? std::string("\r\n") : std::string(1, c);
  auto t2 = parse_csv(crlf, "crlf.csv", err);
  REQUIRE(t2);
  CHECK(t2->values == t->values);
  CHECK(t2->columns == t->columns);
}

TEST_CASE("csv writer round trip", "[runtime]") {
  test::TempDir dir;
  std::string p = dir.file("out.csv"), err;
  std::vector<double> v{0.1, -2, 1e-30, 123456789.125, 3, 1.0 / 3};
  REQUIRE(write_csv(p, {"p", "odd,name"}, v, err));
  CHECK(test::get_file(p).substr(0, 16) == "p,\"odd,name\"\n0.1");
  auto t = read_csv(p, err);
  REQUIRE(t);
  CHECK(t->columns == std::vector<std::string>{"p", "odd,name"});
  CHECK(t->values == v);  // shortest round-trip formatting is exact
  CHECK_FALSE(write_csv(p, {"a", "b"}, {1, 2, 3}, err));
}

TEST_CASE("csv read from a file in blocks equals the text parsed at once", "[runtime]") {
  // Lines and cells cross the reader's 64 KiB blocks; a BOM, CRLF, quotes and trailing
  // blank lines on the way.
  test::TempDir dir;
  std::string text = "\xEF\xBB\xBF" "a, \"b\" ,c\r\n";
  for (int i = 0; i < 20000; ++i) text += std::to_string(i) + ", \"" + std::to_string(i * 0.5) + "\" ," + std::to_string(-i) + "e-3\r\n";
  text += "\n \r\n";
  std::string p = dir.file("big.csv"), err;
  test::put_file(p, text);
  auto from_file = read_csv(p, err);
  INFO(err);
  REQUIRE(from_file);
  auto from_text = parse_csv(text, p, err);
  REQUIRE(from_text);
  CHECK(from_file->columns == std::vector<std::string>{"a", "b", "c"});
  CHECK(from_file->rows == 20000);
  CHECK(from_file->values == from_text->values);
  CHECK(from_file->line_of_row == from_text->line_of_row);
  CHECK(from_file->at(19999, 2) == -19.999);
}

TEST_CASE("csv bounds: a huge line costs no cell per value and a long cell is shown cut", "[runtime]") {
  // The line's cells are counted, not kept (a 64 MiB line of commas peaked at 4 GB).
  std::string line(1 << 22, ',');
  CHECK(csv_error("a,b\n" + line + "\n") == "data.csv:2: expected 2 columns, found 4194305");
  std::string cell(3 << 20, '7');  // beyond the 1 MiB kept of a cell
  CHECK(csv_error("a,b\n1," + cell + "x\n") ==
        "data.csv:2: column 'b' (2): '" + std::string(80, '7') + "...' (3145729 bytes) is not a number");
  // More values than the memory limit allows.
  std::string err;
  CHECK_FALSE(parse_csv("a,b\n1,2\n3,4\n5,6\n", "data.csv", err, 5));
  CHECK(err.rfind("data.csv:4: the values up to this line take more than the memory limit of ", 0) == 0);
}

TEST_CASE("csv refuses what is not a regular file", "[runtime]") {
  std::string err;
  CHECK_FALSE(read_csv("/dev/zero", err));
  CHECK(err == "/dev/zero: cannot read: not a regular file (a character device)");
  test::TempDir dir;
  std::string fifo = dir.file("fifo.csv");
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  CHECK_FALSE(read_csv(fifo, err));  // opened without waiting for a writer
  CHECK(err == fifo + ": cannot read: not a regular file (a FIFO)");
}
