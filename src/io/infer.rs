//! Sequential architectures read off PyTorch state-dict names and shapes
//! ([`super::Architecture::infer`]).
//!
//! A state dict names each tensor `<module>.<parameter>`: `0.weight`,
//! `features.3.bias`, `bn1.running_mean`. Grouping by module and looking at
//! which parameters a module has and their ranks tells its kind; the order of
//! the modules is the natural order of their names. Only what the file cannot
//! say is assumed: the activation (given), the convolutions' stride and padding
//! (given, PyTorch's defaults 1 and 0 otherwise) and where the image becomes a
//! vector (before the first dense layer, as `nn.Flatten` sits in a `Sequential`).

use std::cmp::Ordering;
use std::collections::BTreeMap;

use super::arch_layer::ArchLayer;
use crate::network::{Activation, Shape};
use crate::{Error, Result};

/// The parameters of one module: suffix (`weight`, `running_mean`, ...) to shape.
type Module = BTreeMap<String, Vec<usize>>;

/// Stride and padding given to every inferred convolution.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ConvGuess {
    /// Stride along both axes.
    pub stride: usize,
    /// Zero padding on each side along both axes.
    pub padding: usize,
}

/// The activation as an architecture layer.
pub(crate) fn activation_layer(act: Activation) -> ArchLayer {
    match act {
        Activation::Relu => ArchLayer::Relu,
        Activation::LeakyRelu(s) => ArchLayer::LeakyRelu(s),
        Activation::Abs => ArchLayer::Abs,
    }
}

/// The layers of the sequential network whose state dict holds `tensors`
/// (name and shape), on inputs of shape `input` (`None`: flat).
///
/// # Errors
///
/// [`Error::Invalid`] for names that are not `<module>.<parameter>` or a module
/// whose parameters match no layer kind; [`Error::Shape`] for a convolution
/// whose input channels do not divide the channels it receives.
pub(crate) fn infer_layers(
    tensors: &[(String, Vec<usize>)],
    input: Option<Shape>,
    act: Activation,
    conv: ConvGuess,
) -> Result<Vec<ArchLayer>> {
    let modules = group_by_module(tensors)?;
    let mut channels = match input {
        Some(Shape::Image { c, .. }) => Some(c),
        _ => None,
    };
    let mut layers = Vec::new();
    let weighted = modules.iter().filter(|(_, m)| !is_batch_norm(m)).count();
    let mut seen = 0;
    for (index, (prefix, module)) in modules.iter().enumerate() {
        if is_batch_norm(module) {
            layers.push(batch_norm(prefix, module)?);
        } else {
            match module.get("weight").map(Vec::len) {
                Some(2) => {
                    if channels.take().is_some() {
                        layers.push(ArchLayer::Flatten);
                    }
                    layers.push(dense(prefix, module));
                }
                Some(4) => layers.push(convolution(prefix, module, &mut channels, conv)?),
                _ => return Err(unknown_module(prefix, module)),
            }
            seen += 1;
        }
        // The activation follows a layer and its batch norm, except after the last layer.
        let next_is_bn = modules.get(index + 1).is_some_and(|(_, m)| is_batch_norm(m));
        if seen > 0 && seen < weighted && !next_is_bn {
            layers.push(activation_layer(act));
        }
    }
    Ok(layers)
}

/// Groups tensors by module, in the natural order of the module names.
fn group_by_module(tensors: &[(String, Vec<usize>)]) -> Result<Vec<(String, Module)>> {
    let mut modules: BTreeMap<&str, Module> = BTreeMap::new();
    for (name, shape) in tensors {
        let (prefix, suffix) = name.rsplit_once('.').ok_or_else(|| {
            Error::invalid(
                "inferred architecture",
                format!("tensor {name} is not named <module>.<parameter> as in a PyTorch state dict"),
            )
        })?;
        modules
            .entry(prefix)
            .or_default()
            .insert(suffix.to_string(), shape.clone());
    }
    let mut modules: Vec<(String, Module)> = modules.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
    modules.sort_by(|a, b| natural_order(&a.0, &b.0));
    Ok(modules)
}

/// Compares module names part by part, numbers as numbers (`2` before `10`,
/// `fc2` before `fc10`).
fn natural_order(a: &str, b: &str) -> Ordering {
    let key = |s: &str| -> Vec<(String, u64)> {
        let mut parts = Vec::new();
        let mut rest = s;
        while !rest.is_empty() {
            let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
            if digits > 0 {
                parts.push((String::new(), rest[..digits].parse().unwrap_or(u64::MAX)));
                rest = &rest[digits..];
            } else {
                let text = rest.find(|c: char| c.is_ascii_digit()).unwrap_or(rest.len());
                parts.push((rest[..text].to_string(), 0));
                rest = &rest[text..];
            }
        }
        parts
    };
    key(a).cmp(&key(b))
}

/// Whether a module is a batch norm: it has running statistics.
fn is_batch_norm(module: &Module) -> bool {
    module.contains_key("running_mean") && module.contains_key("running_var")
}

/// A batch norm with PyTorch's epsilon (the state dict does not store it).
fn batch_norm(prefix: &str, module: &Module) -> Result<ArchLayer> {
    if !(module.contains_key("weight") && module.contains_key("bias")) {
        return Err(Error::invalid(
            "inferred architecture",
            format!(
                "batch norm {prefix} has no weight and bias (affine=False); give an explicit Architecture"
            ),
        ));
    }
    Ok(ArchLayer::batch_norm(prefix))
}

fn dense(prefix: &str, module: &Module) -> ArchLayer {
    ArchLayer::Dense {
        weight: format!("{prefix}.weight"),
        bias: module.contains_key("bias").then(|| format!("{prefix}.bias")),
    }
}

/// A convolution of PyTorch's `(out, in / groups, kh, kw)` weight; the groups
/// follow from the channels it receives.
fn convolution(
    prefix: &str,
    module: &Module,
    channels: &mut Option<usize>,
    conv: ConvGuess,
) -> Result<ArchLayer> {
    let w = &module["weight"];
    let (out, per_group) = (w[0], w[1]);
    let groups = match *channels {
        None => 1,
        Some(c) if per_group > 0 && c % per_group == 0 => c / per_group,
        Some(c) => {
            return Err(Error::shape(
                format!("input channels of {prefix}.weight"),
                format!("a divisor of {c}"),
                per_group,
            ))
        }
    };
    *channels = Some(out);
    Ok(ArchLayer::Conv2d {
        weight: format!("{prefix}.weight"),
        bias: module.contains_key("bias").then(|| format!("{prefix}.bias")),
        stride: [conv.stride; 2],
        padding: [conv.padding; 2],
        dilation: [1, 1],
        groups,
    })
}

fn unknown_module(prefix: &str, module: &Module) -> Error {
    let parameters: Vec<String> = module.iter().map(|(k, v)| format!("{k} {v:?}")).collect();
    Error::invalid(
        "inferred architecture",
        format!(
            "module {prefix} ({}) is neither dense (2-D weight), conv (4-D weight) nor batch norm \
             (running_mean, running_var); give an explicit Architecture",
            parameters.join(", ")
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[(&str, &[usize])]) -> Vec<(String, Vec<usize>)> {
        list.iter().map(|(n, s)| (n.to_string(), s.to_vec())).collect()
    }

    const PYTORCH: ConvGuess = ConvGuess {
        stride: 1,
        padding: 0,
    };

    #[test]
    fn module_names_sort_naturally() {
        let mut v = vec!["10", "2", "fc10", "fc2", "1"];
        v.sort_by(|a, b| natural_order(a, b));
        assert_eq!(v, vec!["1", "2", "10", "fc2", "fc10"]);
    }

    #[test]
    fn mlp_with_batch_norm_gets_activations_between_layers_only() {
        let tensors = names(&[
            ("3.weight", &[4, 8]),
            ("3.bias", &[4]),
            ("0.weight", &[8, 5]),
            ("0.bias", &[8]),
            ("1.weight", &[8]),
            ("1.bias", &[8]),
            ("1.running_mean", &[8]),
            ("1.running_var", &[8]),
            ("1.num_batches_tracked", &[]),
        ]);
        let layers = infer_layers(&tensors, None, Activation::Relu, PYTORCH).unwrap();
        assert_eq!(
            layers,
            vec![
                ArchLayer::dense("0"),
                ArchLayer::batch_norm("1"),
                ArchLayer::Relu,
                ArchLayer::dense("3")
            ]
        );
    }

    #[test]
    fn conv_stack_flattens_before_the_first_dense_layer_and_finds_groups() {
        let tensors = names(&[
            ("0.weight", &[4, 1, 3, 3]),
            ("2.weight", &[8, 2, 3, 3]),
            ("5.weight", &[3, 72]),
            ("5.bias", &[3]),
        ]);
        let input = Some(Shape::Image { c: 2, h: 3, w: 3 });
        let guess = ConvGuess {
            stride: 1,
            padding: 1,
        };
        let layers = infer_layers(&tensors, input, Activation::Abs, guess).unwrap();
        let groups: Vec<usize> = (layers.iter())
            .filter_map(|l| match l {
                ArchLayer::Conv2d { groups, padding, .. } => Some(*groups * 10 + padding[0]),
                _ => None,
            })
            .collect();
        assert_eq!(groups, vec![21, 21], "groups 2 then 2, padding 1");
        assert_eq!(layers[1], ArchLayer::Abs);
        assert_eq!(layers[4], ArchLayer::Flatten);
        assert_eq!(layers.len(), 6);
    }

    #[test]
    fn unknown_modules_and_flat_names_are_errors() {
        let odd = names(&[("emb.weight", &[3, 4, 5])]);
        let err = infer_layers(&odd, None, Activation::Relu, PYTORCH).unwrap_err();
        assert!(err.to_string().contains("explicit Architecture"), "{err}");
        let flat = names(&[("W0", &[3, 4])]);
        assert!(infer_layers(&flat, None, Activation::Relu, PYTORCH).is_err());
        let bad_groups = names(&[("0.weight", &[4, 3, 3, 3])]);
        let input = Some(Shape::Image { c: 2, h: 5, w: 5 });
        assert!(matches!(
            infer_layers(&bad_groups, input, Activation::Relu, PYTORCH),
            Err(Error::Shape { .. })
        ));
    }
}
