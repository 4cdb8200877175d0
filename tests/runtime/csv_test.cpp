// CSV reader: parsing rules, every error message, real data, and the writer.
#include "runtime/csv.hpp"
#include "test_util.hpp"
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
