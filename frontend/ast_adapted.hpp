// Boost.Fusion adaptation of every AST node, so that X3 can fill them from sequences.
// Leaf nodes (Identifier, Number, Dim) are filled by semantic actions but adapted too.
#pragma once
#include "frontend/ast.hpp"
#include <boost/fusion/include/adapt_struct.hpp>

BOOST_FUSION_ADAPT_STRUCT(kiln::ast::Identifier, name)
BOOST_FUSION_ADAPT_STRUCT(kiln::ast::Number, text)
BOOST_FUSION_ADAPT_STRUCT(kiln::ast::Operation, op, operand)
BOOST_FUSION_ADAPT_STRUCT(kiln::ast::Expression, first, rest)
BOOST_FUSION_ADAPT_STRUCT(kiln::ast::Unary, op, operand)
BOOST_FUSION_ADAPT_STRUCT(kiln::ast::Argument, keyword, value)
BOOST_FUSION_ADAPT_STRUCT(kiln::ast::Call, callee, args)
BOOST_FUSION_ADAPT_STRUCT(kiln::ast::ListLiteral, items)
BOOST_FUSION_ADAPT_STRUCT(kiln::ast::Dim, text)
BOOST_FUSION_ADAPT_STRUCT(kiln::ast::TypeSpec, elem, dims)
BOOST_FUSION_ADAPT_STRUCT(kiln::ast::ModelDecl, name)
BOOST_FUSION_ADAPT_STRUCT(kiln::ast::DimDecl, name, value)
BOOST_FUSION_ADAPT_STRUCT(kiln::ast::InputDecl, name, type, normalize)
BOOST_FUSION_ADAPT_STRUCT(kiln::ast::ParamDecl, kind, name, type, init)
BOOST_FUSION_ADAPT_STRUCT(kiln::ast::FnDecl, name, params, body)
BOOST_FUSION_ADAPT_STRUCT(kiln::ast::Binding, name, value)
BOOST_FUSION_ADAPT_STRUCT(kiln::ast::OutputDecl, name, value)
BOOST_FUSION_ADAPT_STRUCT(kiln::ast::Minimize, value)
BOOST_FUSION_ADAPT_STRUCT(kiln::ast::MetricDecl, name, value)
BOOST_FUSION_ADAPT_STRUCT(kiln::ast::Setting, key, value)
BOOST_FUSION_ADAPT_STRUCT(kiln::ast::TrainBlock, items)
BOOST_FUSION_ADAPT_STRUCT(kiln::ast::Program, statements)

