//! The `.npz` naming convention `W0, b0, W1, b1, ...`, shared by the `.npz`
//! and safetensors loaders.

/// The number of layers named `W0, b0, ..., W{n-1}, b{n-1}` among `names`.
///
/// Other names are ignored. The reason in the error says which name is
/// missing or stray, in the words of the file format.
pub(crate) fn numbered_layer_count<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<usize, String> {
    let (mut ws, mut bs) = (Vec::new(), Vec::new());
    for name in names {
        let index = |prefix: char| name.strip_prefix(prefix)?.parse::<usize>().ok();
        if let Some(k) = index('W') {
            ws.push(k);
        } else if let Some(k) = index('b') {
            bs.push(k);
        }
    }
    let count = ws.len();
    if count == 0 {
        return Err("no weight array W0".into());
    }
    for k in 0..count {
        if !ws.contains(&k) {
            return Err(format!(
                "gap in the layer numbering: W{k} is missing but W{} exists",
                ws.iter().max().unwrap_or(&0)
            ));
        }
        if !bs.contains(&k) {
            return Err(format!("W{k} has no bias b{k}"));
        }
    }
    match bs.iter().find(|&&k| k >= count) {
        Some(extra) => Err(format!("bias b{extra} has no weight W{extra}")),
        None => Ok(count),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_complete_pairs_and_ignores_other_names() {
        assert_eq!(numbered_layer_count(["W0", "b0", "W1", "b1", "act"]), Ok(2));
    }

    #[test]
    fn rejects_gaps_missing_biases_and_stray_biases() {
        assert!(numbered_layer_count(["act"]).unwrap_err().contains("W0"));
        assert!(numbered_layer_count(["W0", "b0", "W2", "b2"])
            .unwrap_err()
            .contains("gap"));
        assert!(numbered_layer_count(["W0"]).unwrap_err().contains("b0"));
        assert!(numbered_layer_count(["W0", "b0", "b1"])
            .unwrap_err()
            .contains("b1"));
    }
}
