//! The few ONNX protobuf messages the importer reads, declared by hand.
//!
//! Field numbers follow `onnx.proto` (IR version 7 and later, which keeps the
//! numbers of earlier versions). Only the fields the importer uses are
//! declared: prost skips every other field while decoding, so files written
//! by newer exporters still parse. Subgraph attributes (`g`, `graphs`) are
//! skipped on purpose: the operators that carry them (`If`, `Loop`, `Scan`) are
//! outside the CPWL subset and are rejected by name.

/// A whole model file: a graph and the operator sets it was written against.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct ModelProto {
    /// The IR version of the file.
    #[prost(int64, optional, tag = "1")]
    pub ir_version: Option<i64>,
    /// The computation graph.
    #[prost(message, optional, tag = "7")]
    pub graph: Option<GraphProto>,
    /// The operator sets the nodes bind to.
    #[prost(message, repeated, tag = "8")]
    pub opset_import: Vec<OperatorSetIdProto>,
}

/// An operator set: a domain and its version.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct OperatorSetIdProto {
    /// The domain; empty for the default `ai.onnx` operators.
    #[prost(string, optional, tag = "1")]
    pub domain: Option<String>,
    /// The version of the operator set.
    #[prost(int64, optional, tag = "2")]
    pub version: Option<i64>,
}

/// A graph: nodes in topological order, constant tensors, inputs and outputs.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct GraphProto {
    /// The nodes, sorted topologically.
    #[prost(message, repeated, tag = "1")]
    pub node: Vec<NodeProto>,
    /// The graph's name.
    #[prost(string, optional, tag = "2")]
    pub name: Option<String>,
    /// Named constant tensors (the trained parameters).
    #[prost(message, repeated, tag = "5")]
    pub initializer: Vec<TensorProto>,
    /// The graph's inputs (in old files, initializers are listed here too).
    #[prost(message, repeated, tag = "11")]
    pub input: Vec<ValueInfoProto>,
    /// The graph's outputs.
    #[prost(message, repeated, tag = "12")]
    pub output: Vec<ValueInfoProto>,
}

/// One operator application.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct NodeProto {
    /// Names of the input values; an empty name is an omitted optional input.
    #[prost(string, repeated, tag = "1")]
    pub input: Vec<String>,
    /// Names of the output values; an empty name is an omitted optional output.
    #[prost(string, repeated, tag = "2")]
    pub output: Vec<String>,
    /// The node's name (may be empty).
    #[prost(string, optional, tag = "3")]
    pub name: Option<String>,
    /// The operator, such as `Gemm` or `Relu`.
    #[prost(string, optional, tag = "4")]
    pub op_type: Option<String>,
    /// The operator's attributes.
    #[prost(message, repeated, tag = "5")]
    pub attribute: Vec<AttributeProto>,
    /// The operator's domain; empty or `ai.onnx` for the standard operators.
    #[prost(string, optional, tag = "7")]
    pub domain: Option<String>,
}

/// A named attribute holding one of several kinds of value.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct AttributeProto {
    /// The attribute's name.
    #[prost(string, optional, tag = "1")]
    pub name: Option<String>,
    /// A float value.
    #[prost(float, optional, tag = "2")]
    pub f: Option<f32>,
    /// An integer value.
    #[prost(int64, optional, tag = "3")]
    pub i: Option<i64>,
    /// A string value (UTF-8 bytes).
    #[prost(bytes = "vec", optional, tag = "4")]
    pub s: Option<Vec<u8>>,
    /// A tensor value (the `value` of a `Constant` node).
    #[prost(message, optional, tag = "5")]
    pub t: Option<TensorProto>,
    /// A list of floats.
    #[prost(float, repeated, tag = "7")]
    pub floats: Vec<f32>,
    /// A list of integers.
    #[prost(int64, repeated, tag = "8")]
    pub ints: Vec<i64>,
    /// A reference to an attribute of an enclosing function (unsupported here).
    #[prost(string, optional, tag = "21")]
    pub ref_attr_name: Option<String>,
}

/// A serialized tensor.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct TensorProto {
    /// The shape.
    #[prost(int64, repeated, tag = "1")]
    pub dims: Vec<i64>,
    /// The element type (a `TensorProto.DataType` code, see [`DataType`]).
    #[prost(int32, optional, tag = "2")]
    pub data_type: Option<i32>,
    /// Present when the tensor is stored in chunks (unsupported here).
    #[prost(message, optional, tag = "3")]
    pub segment: Option<Segment>,
    /// FLOAT elements.
    #[prost(float, repeated, tag = "4")]
    pub float_data: Vec<f32>,
    /// INT32, INT16, INT8, UINT16, UINT8, BOOL and FLOAT16 (as bits) elements.
    #[prost(int32, repeated, tag = "5")]
    pub int32_data: Vec<i32>,
    /// INT64 elements.
    #[prost(int64, repeated, tag = "7")]
    pub int64_data: Vec<i64>,
    /// The tensor's name.
    #[prost(string, optional, tag = "8")]
    pub name: Option<String>,
    /// Elements as fixed-width little-endian bytes.
    #[prost(bytes = "vec", optional, tag = "9")]
    pub raw_data: Option<Vec<u8>>,
    /// DOUBLE elements.
    #[prost(double, repeated, tag = "10")]
    pub double_data: Vec<f64>,
    /// UINT32 and UINT64 elements.
    #[prost(uint64, repeated, tag = "11")]
    pub uint64_data: Vec<u64>,
    /// Where external data lives (unsupported here).
    #[prost(message, repeated, tag = "13")]
    pub external_data: Vec<StringStringEntryProto>,
    /// 0: data in this message; 1: data in an external file.
    #[prost(int32, optional, tag = "14")]
    pub data_location: Option<i32>,
}

/// The element types of [`TensorProto::data_type`] that the importer reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DataType {
    /// IEEE binary32.
    Float,
    /// Signed 32-bit integer.
    Int32,
    /// Signed 64-bit integer.
    Int64,
    /// IEEE binary16.
    Float16,
    /// IEEE binary64.
    Double,
    /// bfloat16 (the upper half of a binary32).
    BFloat16,
}

impl DataType {
    /// The type of an ONNX `DataType` code, `None` for the types the importer cannot read.
    pub(crate) fn from_code(code: i32) -> Option<Self> {
        match code {
            1 => Some(DataType::Float),
            6 => Some(DataType::Int32),
            7 => Some(DataType::Int64),
            10 => Some(DataType::Float16),
            11 => Some(DataType::Double),
            16 => Some(DataType::BFloat16),
            _ => None,
        }
    }
}

/// A chunk of a tensor stored in several messages.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Segment {
    /// The first element of the chunk.
    #[prost(int64, optional, tag = "1")]
    pub begin: Option<i64>,
    /// One past the last element of the chunk.
    #[prost(int64, optional, tag = "2")]
    pub end: Option<i64>,
}

/// A key-value pair.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct StringStringEntryProto {
    /// The key.
    #[prost(string, optional, tag = "1")]
    pub key: Option<String>,
    /// The value.
    #[prost(string, optional, tag = "2")]
    pub value: Option<String>,
}

/// A named value with its type, used for graph inputs and outputs.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct ValueInfoProto {
    /// The value's name.
    #[prost(string, optional, tag = "1")]
    pub name: Option<String>,
    /// The value's type.
    #[prost(message, optional, tag = "2")]
    pub r#type: Option<TypeProto>,
}

/// A value's type; only the tensor case of the `oneof` is read.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct TypeProto {
    /// The tensor type (the other cases of the `oneof`, sequences and maps, are skipped).
    #[prost(message, optional, tag = "1")]
    pub tensor_type: Option<TensorTypeProto>,
}

/// A tensor type: element type and shape (`TypeProto.Tensor` in `onnx.proto`).
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct TensorTypeProto {
    /// The element type (a [`DataType`] code).
    #[prost(int32, optional, tag = "1")]
    pub elem_type: Option<i32>,
    /// The shape, when known.
    #[prost(message, optional, tag = "2")]
    pub shape: Option<TensorShapeProto>,
}

/// A shape whose dimensions are numbers or symbolic names.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct TensorShapeProto {
    /// The dimensions, outermost first.
    #[prost(message, repeated, tag = "1")]
    pub dim: Vec<Dimension>,
}

/// One dimension of a [`TensorShapeProto`].
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Dimension {
    /// A number or a symbolic name; absent when unknown.
    #[prost(oneof = "DimensionValue", tags = "1, 2")]
    pub value: Option<DimensionValue>,
}

/// The two kinds of [`Dimension`].
#[derive(Clone, PartialEq, prost::Oneof)]
pub(crate) enum DimensionValue {
    /// A fixed size.
    #[prost(int64, tag = "1")]
    DimValue(i64),
    /// A symbolic size, such as `batch`.
    #[prost(string, tag = "2")]
    DimParam(String),
}
