//! Parameters by ownership: every float parameter of a module with its dotted path, so that
//! "all parameters of modality m's encoder" (OGM-GE, freezing) is a lookup by owner, never by
//! tensor rank or shape.

use burn::module::{Module, ModuleVisitor, Param, ParamId};
use burn::tensor::Tensor;

/// One float parameter: its id (as gradients are keyed), dotted path and element count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedParam {
    pub id: ParamId,
    /// e.g. `encoders.1.conv1.weight`.
    pub name: String,
    pub numel: usize,
}

struct Collect {
    path: Vec<String>,
    out: Vec<NamedParam>,
}

impl ModuleVisitor for Collect {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }

    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        self.out.push(NamedParam {
            id: param.id,
            name: self.path.join("."),
            numel: param.lazy_shape().num_elements(),
        });
    }
}

/// Every float parameter of `module`, in visiting order, named `prefix.<path>`.
pub fn named_params<M: Module>(module: &M, prefix: &str) -> Vec<NamedParam> {
    let mut v = Collect {
        path: if prefix.is_empty() {
            vec![]
        } else {
            vec![prefix.to_string()]
        },
        out: Vec::new(),
    };
    module.visit(&mut v);
    v.out
}
