//! Writes the tiny random model the golden test uses: `write_tiny_model DIR [SEED]`.
//! A classifier with the codebook's labels; `--bare` writes an encoder without a head.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let bare = args.iter().any(|a| a == "--bare");
    let positional: Vec<&String> = args.iter().filter(|a| !a.starts_with("--")).collect();
    let dir = positional
        .first()
        .ok_or("usage: write_tiny_model DIR [SEED] [--bare]")?;
    let seed: u64 = positional
        .get(1)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(7);
    let labels = stance_model::LabelSet::new(
        ["condemnation", "commitment", "diplomatic-opening", "other"]
            .map(String::from)
            .to_vec(),
    );
    stance_model::testing::write_tiny_model(
        std::path::Path::new(dir.as_str()),
        (!bare).then_some(&labels),
        seed,
    )?;
    Ok(())
}
