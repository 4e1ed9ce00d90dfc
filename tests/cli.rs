//! End-to-end tests of the `stance` binary: every subcommand is run as a
//! child process on small fixtures (`tests/fixtures/`) with a tiny randomly
//! initialised model, and its outputs are read back and checked.
//!
//! Child processes run with `RAYON_NUM_THREADS=1`, so that the suite stays
//! light on a busy machine, and with `RUST_BACKTRACE=1`, so that error
//! messages are checked to stay free of backtraces even then. The `shared`
//! test uses the shipped model and `../shared/examples` when both exist and
//! is skipped (with a note on stderr) otherwise.

mod common;

use common::*;

// ---------------------------------------------------------------------------
// label
// ---------------------------------------------------------------------------

mod label {
    use super::*;

    #[test]
    fn text_file_to_parquet_has_schema_offsets_and_provenance() {
        let tmp = tempfile::tempdir().unwrap();
        let model = tiny_model(tmp.path());
        let input = fixture("joint-statement.txt");
        let out = tmp.path().join("labels.parquet");
        label_to(&model, &[&input], &out, &[]).ok();

        let text = read_text(&input);
        assert_ne!(
            text.len(),
            text.chars().count(),
            "the fixture has non-ASCII text"
        );
        let rows = labelled_rows(&out);
        check_rows(&rows, &docs(&[("joint-statement", text.clone())]));
        assert_eq!(
            texts(&rows),
            [
                "Joint Statement of the Foreign Ministers of the Republic of Korea, Japan and the United States",
                "The Ministers strongly condemn the DPRK’s launch of an intercontinental ballistic missile on 12 July, which is a flagrant violation of multiple UN Security Council resolutions.",
                "They reaffirmed their “ironclad commitment” to the defence of the region.",
                "The three countries will continue to strengthen trilateral security cooperation.",
                "The Ministers emphasised that the door to dialogue remains open, and urged Pyongyang to return to negotiations without preconditions.",
                "Minister Hélène Dupré of France joined the meeting as an observer.",
                "외교부 장관은 대화의 문이 열려 있다고 강조했다.",
                "• The Ministers will meet again in Seoul in the first half of next year.",
            ]
        );
        let paragraphs: Vec<u32> = rows.iter().map(|r| r.paragraph).collect();
        assert_eq!(paragraphs, [0, 1, 2, 2, 3, 4, 4, 5]);
        // Char offsets, not byte offsets: the Korean sentence starts after
        // several multi-byte characters.
        let korean = &rows[6];
        let byte_start = text.find("외교부").unwrap();
        assert_eq!(
            korean.char_start as usize,
            text[..byte_start].chars().count()
        );
        assert_ne!(korean.char_start as usize, byte_start);
        assert!(rows.iter().all(|r| r.source == input.to_string_lossy()));

        let meta = metadata(&out);
        assert_eq!(meta["stance.version"], env!("CARGO_PKG_VERSION"));
        assert_eq!(meta["stance.model"], "tiny-model");
        assert_eq!(
            meta["stance.model_sha256"],
            sha256_hex(&model.join("model.safetensors"))
        );
        let labels: Vec<String> =
            serde_json::from_str(&meta["stance.labels"]).expect("JSON labels");
        assert_eq!(labels, LABELS);
        assert_eq!(meta["stance.schema_version"], "1");
    }

    #[test]
    fn windows_files_utf16_text_and_cr_lf_csv_read_as_their_text() {
        let tmp = tempfile::tempdir().unwrap();
        let model = tiny_model(tmp.path());
        let input = fixture("joint-statement.txt");
        let text = read_text(&input);
        // "Unicode" text as Windows Notepad saves it: UTF-16LE with a BOM.
        let utf16 = tmp.path().join("joint-statement.txt");
        let mut bytes = vec![0xFF, 0xFE];
        bytes.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
        fs::write(&utf16, bytes).unwrap();
        let (a, b) = (tmp.path().join("a.parquet"), tmp.path().join("b.parquet"));
        label_to(&model, &[&input], &a, &[]).ok();
        label_to(&model, &[&utf16], &b, &[]).ok();
        let (original, windows) = (labelled_rows(&a), labelled_rows(&b));
        assert_eq!(texts(&original), texts(&windows));
        assert_same_verdicts(&original, &windows);

        // A spreadsheet's CSV export: CR LF everywhere. Each row keeps its
        // own line number as its id.
        let csv = tmp.path().join("export.csv");
        fs::write(
            &csv,
            "text\r\nWe condemn the attack.\r\nWe will help.\r\nTalks resume.\r\n",
        )
        .unwrap();
        let out = tmp.path().join("csv.parquet");
        label_to(&model, &[&csv], &out, &[]).ok();
        let ids: Vec<String> = labelled_rows(&out).into_iter().map(|r| r.doc_id).collect();
        assert_eq!(ids, ["export:2", "export:3", "export:4"]);
    }

    #[test]
    fn pasted_news_page_keeps_menu_and_headline_as_own_sentences() {
        let tmp = tempfile::tempdir().unwrap();
        let model = tiny_model(tmp.path());
        let input = fixture("news-page.txt");
        let out = tmp.path().join("news.parquet");
        label_to(&model, &[&input], &out, &[]).ok();
        let rows = labelled_rows(&out);
        check_rows(&rows, &docs(&[("news-page", read_text(&input))]));
        let t = texts(&rows);
        assert_eq!(
            t[0],
            "Home | World | Politics | Defence | Opinion | Subscribe"
        );
        assert_eq!(
            t[1],
            "Allies Condemn Missile Launch, Pledge Closer Defence Ties"
        );
        assert_eq!(t[2], "By Jane Doe, Security Correspondent");
        assert_eq!(
            t.last(),
            Some(&"Related: Five things to know about the talks")
        );
        assert_eq!(rows.len(), 9);
    }

    #[test]
    fn saved_html_page_reads_as_the_same_lines_as_the_pasted_page() {
        let tmp = tempfile::tempdir().unwrap();
        let model = tiny_model(tmp.path());
        let pasted = tmp.path().join("pasted.parquet");
        label_to(&model, &[&fixture("news-page.txt")], &pasted, &[]).ok();
        let saved = tmp.path().join("saved.parquet");
        label_to(&model, &[&fixture("news-page.html")], &saved, &[]).ok();
        let (pasted, saved) = (labelled_rows(&pasted), labelled_rows(&saved));
        // No script, style, comment, title or hidden text; quotes decoded.
        assert_eq!(texts(&saved), texts(&pasted));
        assert_eq!(saved[0].doc_id, "news-page");
        assert!(saved.iter().all(|r| r.source.ends_with("news-page.html")));
        let labels = |rows: &[Row]| rows.iter().map(|r| r.label.clone()).collect::<Vec<_>>();
        assert_eq!(labels(&saved), labels(&pasted));

        // The same page on standard input, with --input-format html.
        let html = fs::read(fixture("news-page.html")).unwrap();
        let ran = run_with_stdin(
            &[
                &"label",
                &"-",
                &"--input-format",
                &"html",
                &"--format",
                &"jsonl",
                &"-o",
                &"-",
                &"--model",
                &model,
            ],
            &html,
        )
        .ok();
        let from_stdin = jsonl_rows(&ran.stdout);
        assert_eq!(texts(&from_stdin), texts(&pasted));

        // An older page saved in windows-1252, as it declares.
        let latin = tmp.path().join("latin.htm");
        fs::write(
            &latin,
            b"<html><head><meta http-equiv=\"Content-Type\" content=\"text/html; \
              charset=iso-8859-1\"></head><body><p>The minister\x92s visit to \
              S\xe3o Paulo.</p></body></html>",
        )
        .unwrap();
        let latin_out = tmp.path().join("latin.parquet");
        label_to(&model, &[&latin], &latin_out, &[]).ok();
        assert_eq!(
            texts(&labelled_rows(&latin_out)),
            ["The minister\u{2019}s visit to S\u{e3}o Paulo."]
        );
        // Without a declaration, invalid UTF-8 is the usual error.
        let undeclared = tmp.path().join("undeclared.html");
        fs::write(&undeclared, b"<p>S\xe3o Paulo</p>").unwrap();
        label_to(&model, &[&undeclared], &tmp.path().join("u.parquet"), &[])
            .exits(2)
            .stderr_has(&["undeclared.html:1: invalid UTF-8 at byte 4"]);

        // Saved under .txt, the page is read as text, with a warning.
        let misnamed = tmp.path().join("page.txt");
        fs::write(&misnamed, &html).unwrap();
        label_to(
            &model,
            &[&misnamed],
            &tmp.path().join("misnamed.parquet"),
            &[],
        )
        .ok()
        .stderr_has(&["page.txt looks like an HTML page", "--input-format html"]);
        let plain = label_to(
            &model,
            &[&fixture("news-page.txt")],
            &tmp.path().join("p.parquet"),
            &[],
        )
        .ok();
        assert!(!plain.stderr.contains("HTML"), "{}", plain.stderr);
    }

    #[test]
    fn gzipped_inputs_read_as_the_files_they_hold() {
        use std::io::Write;
        let gzip = |bytes: &[u8]| {
            let mut encoder =
                flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            encoder.write_all(bytes).unwrap();
            encoder.finish().unwrap()
        };
        let tmp = tempfile::tempdir().unwrap();
        let model = tiny_model(tmp.path());
        let plain = fixture("statements.jsonl");
        let packed = tmp.path().join("statements.jsonl.gz");
        fs::write(&packed, gzip(&fs::read(&plain).unwrap())).unwrap();
        let (plain_out, packed_out) = (tmp.path().join("a.parquet"), tmp.path().join("b.parquet"));
        label_to(&model, &[&plain], &plain_out, &[]).ok();
        label_to(&model, &[&packed], &packed_out, &[]).ok();
        let (plain_rows, packed_rows) = (labelled_rows(&plain_out), labelled_rows(&packed_out));
        assert_eq!(texts(&packed_rows), texts(&plain_rows));
        assert_same_verdicts(&packed_rows, &plain_rows);
        let ids = |rows: &[Row]| rows.iter().map(|r| r.doc_id.clone()).collect::<Vec<_>>();
        assert_eq!(ids(&packed_rows), ids(&plain_rows));

        // A walk picks up compressed files; a text file's doc_id drops both
        // extensions.
        let folder = tmp.path().join("folder");
        fs::create_dir(&folder).unwrap();
        let statement = fs::read(fixture("joint-statement.txt")).unwrap();
        fs::write(folder.join("statement.txt.gz"), gzip(&statement)).unwrap();
        fs::write(folder.join("archive.tar.gz"), gzip(b"not an input")).unwrap();
        let walked = tmp.path().join("walked.parquet");
        label_to(&model, &[&folder], &walked, &[]).ok();
        let rows = labelled_rows(&walked);
        check_rows(
            &rows,
            &docs(&[("statement", read_text(&fixture("joint-statement.txt")))]),
        );

        // Errors name the compressed file, with lines of the text inside it.
        let bad = tmp.path().join("bad.jsonl.gz");
        fs::write(&bad, gzip(b"{\"text\": \"Fine.\"}\n{\"text\": \n")).unwrap();
        label_to(&model, &[&bad], &tmp.path().join("bad.parquet"), &[])
            .exits(2)
            .stderr_has(&["bad.jsonl.gz:2: malformed JSON"]);
        let whole = gzip(&statement);
        let cut = tmp.path().join("cut.txt.gz");
        fs::write(&cut, &whole[..whole.len() / 2]).unwrap();
        label_to(&model, &[&cut], &tmp.path().join("cut.parquet"), &[])
            .exits(2)
            .stderr_has(&["cut.txt.gz: cannot decompress (gzip)"]);

        // Gold files too.
        let gold = tmp.path().join("gold.jsonl.gz");
        fs::write(&gold, gzip(&fs::read(fixture("gold.jsonl")).unwrap())).unwrap();
        let scored = |gold: &Path| {
            let ran = run(&[&"eval", &"--gold", &gold, &"--model", &model]).ok();
            // From the summary on: the title underline is as long as the path.
            let summary = ran.stdout.find("Summary").expect("a summary");
            ran.stdout[summary..].to_string()
        };
        assert_eq!(scored(&gold), scored(&fixture("gold.jsonl")));
    }

    #[test]
    fn output_inside_a_walked_directory_is_not_read_back() {
        let tmp = tempfile::tempdir().unwrap();
        let model = tiny_model(tmp.path());
        let dir = tmp.path().join("statements");
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("a.txt"), "We condemn the launch. Talks resume.").unwrap();
        let out = dir.join("labels.jsonl");
        label_to(&model, &[&dir], &out, &[]).ok();
        let first = read_text(&out);
        assert_eq!(jsonl_rows(&first).len(), 2);
        // Again, with the first run's output now inside the folder.
        label_to(&model, &[&dir], &out, &[])
            .ok()
            .stderr_has(&["skipping", "labels.jsonl: it is this run's output"]);
        assert_eq!(read_text(&out), first);
    }

    #[test]
    fn an_output_that_is_an_input_is_refused_and_the_input_kept() {
        let tmp = tempfile::tempdir().unwrap();
        let model = tiny_model(tmp.path());
        let dir = tmp.path().join("statements");
        fs::create_dir_all(&dir).unwrap();
        let text = "We condemn the launch. Talks resume.";
        let doc = dir.join("a.txt");
        fs::write(&doc, text).unwrap();
        let jsonl = dir.join("docs.jsonl");
        let records = "{\"id\":\"x\",\"text\":\"We will help.\"}\n";
        fs::write(&jsonl, records).unwrap();
        // Named directly, by another spelling of the path, or by a hard link.
        let dotted = dir.join(".").join("a.txt");
        let linked = tmp.path().join("link.txt");
        fs::hard_link(&doc, &linked).unwrap();
        for (input, out) in [
            (&doc, &doc),
            (&doc, &dotted),
            (&linked, &doc),
            (&jsonl, &jsonl),
        ] {
            label_to(&model, &[input], out, &["--format", "jsonl"])
                .exits(2)
                .stderr_has(&[
                    "is both an input and the output",
                    "choose another output path",
                ]);
        }
        // Found by a directory walk: a document there is not "this run's
        // output", even when the output is written as JSONL over it.
        label_to(&model, &[&dir], &jsonl, &[])
            .exits(2)
            .stderr_has(&["docs.jsonl is both an input and the output"]);
        label_to(&model, &[&dir], &doc, &["--format", "jsonl"]).exits(2);
        assert_eq!(read_text(&doc), text);
        assert_eq!(read_text(&jsonl), records);
    }

    #[test]
    fn an_output_path_that_cannot_be_a_file_is_named_before_any_work() {
        let tmp = tempfile::tempdir().unwrap();
        let model = tiny_model(tmp.path());
        let input = fixture("joint-statement.txt");
        label_to(&model, &[&input], tmp.path(), &[])
            .exits(2)
            .stderr_has(&["is a directory; -o takes a file path"]);
        let nowhere = tmp.path().join("no-such-folder").join("out.parquet");
        label_to(&model, &[&input], &nowhere, &[])
            .exits(2)
            .stderr_has(&["the folder", "no-such-folder does not exist"]);
    }

    #[test]
    fn a_file_given_twice_is_labelled_once_and_shared_doc_ids_are_flagged() {
        let tmp = tempfile::tempdir().unwrap();
        let model = tiny_model(tmp.path());
        let (x, y) = (tmp.path().join("x"), tmp.path().join("y"));
        fs::create_dir_all(&x).unwrap();
        fs::create_dir_all(&y).unwrap();
        fs::write(x.join("a.txt"), "We condemn the launch.").unwrap();
        fs::write(y.join("a.txt"), "Talks resume. We will help.").unwrap();
        let out = tmp.path().join("out.jsonl");
        label_to(&model, &[&x.join("a.txt"), &x], &out, &[])
            .ok()
            .stderr_has(&["skipping", "already an input"]);
        assert_eq!(jsonl_rows(&read_text(&out)).len(), 1);
        label_to(&model, &[&x.join("a.txt"), &y.join("a.txt")], &out, &[])
            .ok()
            .stderr_has(&["both get doc_id \"a\"", "source column"]);
        let rows = jsonl_rows(&read_text(&out));
        assert_eq!(rows.len(), 3);
        let sources: std::collections::BTreeSet<&str> =
            rows.iter().map(|r| r.source.as_str()).collect();
        assert_eq!(sources.len(), 2);
    }

    #[test]
    fn an_empty_folder_warns_and_skip_errors_covers_missing_files() {
        let tmp = tempfile::tempdir().unwrap();
        let model = tiny_model(tmp.path());
        let empty = tmp.path().join("empty");
        fs::create_dir_all(&empty).unwrap();
        fs::write(empty.join("notes.json"), "{}").unwrap();
        let out = tmp.path().join("out.jsonl");
        label_to(&model, &[&empty], &out, &[])
            .ok()
            .stderr_has(&["no files to label in this folder", ".txt"]);
        assert_eq!(read_text(&out), "");

        let doc = tmp.path().join("a.txt");
        fs::write(&doc, "We condemn the launch.").unwrap();
        let missing = tmp.path().join("missing.txt");
        label_to(&model, &[&missing, &doc], &out, &["--skip-errors"])
            .ok()
            .stderr_has(&["skipped 1 file:", "missing.txt"]);
        assert_eq!(jsonl_rows(&read_text(&out)).len(), 1);
        // Every input skipped: a failure, and the previous output stays.
        label_to(&model, &[&missing], &out, &["--skip-errors"])
            .exits(2)
            .stderr_has(&["missing.txt", "every input was skipped"]);
        assert_eq!(jsonl_rows(&read_text(&out)).len(), 1);
        assert!(temp_files(tmp.path()).is_empty());
    }

    #[test]
    fn devices_are_written_in_place_not_replaced() {
        let tmp = tempfile::tempdir().unwrap();
        let model = tiny_model(tmp.path());
        let input = fixture("joint-statement.txt");
        // `-o /dev/null` through a symlink: the run succeeds and the link
        // (and /dev/null) stay what they were, with no temporary file.
        let null = tmp.path().join("null.parquet");
        std::os::unix::fs::symlink("/dev/null", &null).unwrap();
        label_to(&model, &[&input], &null, &[]).ok();
        assert!(fs::symlink_metadata(&null)
            .unwrap()
            .file_type()
            .is_symlink());
        assert!(!fs::metadata("/dev/null").unwrap().is_file());
        assert_eq!(temp_files(tmp.path()), Vec::<String>::new());
        // `-o /dev/stdout` writes to standard output.
        let ran = label_to(
            &model,
            &[&input],
            Path::new("/dev/stdout"),
            &["--format", "jsonl"],
        )
        .ok();
        assert_eq!(jsonl_rows(&ran.stdout).len(), 8);
    }

    #[test]
    fn directory_is_walked_in_sorted_order_with_relative_doc_ids() {
        let tmp = tempfile::tempdir().unwrap();
        let model = tiny_model(tmp.path());
        let root = tmp.path().join("corpus");
        let files = [
            ("archive/old.md", "The Ministers condemned the launch."),
            ("Zeta.txt", "Both sides agreed to reopen the hotline."),
            (
                "2024-07-01.txt",
                "The allies will continue to work together.",
            ),
            (
                "2024-03-15/readout.txt",
                "Officials met in Seoul. They discussed the talks.",
            ),
            ("2024-03-15/notes.docx", "not a known extension"),
            (".hidden.txt", "hidden files are skipped"),
        ];
        for (rel, text) in files {
            let path = root.join(rel);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, text).unwrap();
        }
        let out = tmp.path().join("dir.parquet");
        label_to(&model, &[&root], &out, &[]).ok();
        let rows = labelled_rows(&out);
        let expected = ["2024-03-15/readout", "2024-07-01", "Zeta", "archive/old"];
        assert_eq!(doc_order(&rows), expected);
        let documents = files[..4]
            .iter()
            .map(|(rel, text)| {
                let id = rel.rsplit_once('.').unwrap().0.to_string();
                (id, text.to_string())
            })
            .collect();
        check_rows(&rows, &documents);
        let readout = rows
            .iter()
            .find(|r| r.doc_id == "2024-03-15/readout")
            .unwrap();
        assert_eq!(
            Path::new(&readout.source),
            root.join("2024-03-15/readout.txt")
        );
    }

    #[test]
    fn jsonl_input_with_text_and_id_fields() {
        let tmp = tempfile::tempdir().unwrap();
        let model = tiny_model(tmp.path());

        // Default fields: `text`, and `id` when present.
        let input = fixture("statements.jsonl");
        let out = tmp.path().join("statements.parquet");
        label_to(&model, &[&input], &out, &[]).ok();
        let rows = labelled_rows(&out);
        let records: Vec<Value> = read_text(&input)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let documents = records
            .iter()
            .map(|r| {
                (
                    r["id"].as_str().unwrap().to_string(),
                    r["text"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        check_rows(&rows, &documents);
        assert_eq!(
            doc_order(&rows),
            ["seoul-2024-03", "tokyo-2024-05", "dc-2024-07"]
        );
        let tokyo: Vec<&Row> = rows
            .iter()
            .filter(|r| r.doc_id == "tokyo-2024-05")
            .collect();
        assert_eq!(tokyo.len(), 2);
        assert_eq!(
            (tokyo[0].paragraph, tokyo[1].paragraph),
            (0, 1),
            "\\n in a JSON string starts a paragraph"
        );

        // Other field names.
        let input = fixture("readouts.jsonl");
        let out = tmp.path().join("readouts.parquet");
        label_to(
            &model,
            &[&input],
            &out,
            &["--text-field", "body", "--id-field", "ref"],
        )
        .ok();
        let rows = labelled_rows(&out);
        let records: Vec<Value> = read_text(&input)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let documents = records
            .iter()
            .map(|r| {
                (
                    r["ref"].as_str().unwrap().to_string(),
                    r["body"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        check_rows(&rows, &documents);
        assert_eq!(doc_order(&rows), ["R-101", "R-102"]);

        // Without an id field the doc_id is FILE:LINE.
        let out = tmp.path().join("readouts-noid.parquet");
        label_to(&model, &[&input], &out, &["--text-field", "body"]).ok();
        let rows = labelled_rows(&out);
        assert_eq!(doc_order(&rows), ["readouts:1", "readouts:2"]);
    }

    #[test]
    fn csv_input_with_quoted_newline() {
        let tmp = tempfile::tempdir().unwrap();
        let model = tiny_model(tmp.path());
        let input = fixture("statements.csv");
        let out = tmp.path().join("csv.parquet");
        label_to(&model, &[&input], &out, &[]).ok();
        let rows = labelled_rows(&out);
        let canberra = "Australia and the United States condemned the destabilising conduct in the South China Sea.\nThe Ministers committed to deepen cooperation on maritime domain awareness.";
        let manila = "The Philippines welcomed the offer of talks, saying that \"dialogue is the only way forward\".";
        check_rows(
            &rows,
            &docs(&[
                ("canberra-2024", canberra.to_string()),
                ("manila-2024", manila.to_string()),
            ]),
        );
        assert_eq!(doc_order(&rows), ["canberra-2024", "manila-2024"]);
        let paragraphs: Vec<(u32, u32)> = rows.iter().map(|r| (r.paragraph, r.sentence)).collect();
        assert_eq!(paragraphs, [(0, 0), (1, 1), (0, 0)]);
        assert_eq!(rows[2].text, manila);
    }

    #[test]
    fn one_document_longer_than_a_chunk_is_labelled_whole_and_in_order() {
        // Sentences are labelled in chunks of 4,096; this document spans
        // three of them, beside a short one read from the same JSONL file.
        let tmp = tempfile::tempdir().unwrap();
        let model = tiny_model(tmp.path());
        let long: String = (0..9000)
            .map(|i| {
                let paragraph_end = if i % 50 == 49 { "\n\n" } else { " " };
                format!("The ministers met for round {i}.{paragraph_end}")
            })
            .collect();
        let short = "We condemn the launch.".to_string();
        let input = tmp.path().join("docs.jsonl");
        std::fs::write(
            &input,
            format!(
                "{}\n{}\n{}\n",
                serde_json::json!({"id": "short-1", "text": short}),
                serde_json::json!({"id": "long", "text": long}),
                serde_json::json!({"id": "short-2", "text": short}),
            ),
        )
        .unwrap();
        let out = tmp.path().join("out.parquet");
        label_to(&model, &[&input], &out, &[]).ok();
        let rows = labelled_rows(&out);
        assert_eq!(rows.len(), 9002);
        check_rows(
            &rows,
            &docs(&[
                ("short-1", short.clone()),
                ("long", long),
                ("short-2", short),
            ]),
        );
        assert_eq!(doc_order(&rows), ["short-1", "long", "short-2"]);
        assert_eq!(rows[9000].paragraph, 179);
    }

    #[test]
    fn stdin_to_stdout_jsonl_matches_the_parquet_output() {
        let tmp = tempfile::tempdir().unwrap();
        let model = tiny_model(tmp.path());
        let input = fixture("joint-statement.txt");
        let text = read_text(&input);
        let ran = run_with_stdin(
            &[
                &"label",
                &"-",
                &"-o",
                &"-",
                &"--format",
                &"jsonl",
                &"--model",
                &model,
                &"--quiet",
            ],
            text.as_bytes(),
        )
        .ok();
        assert!(ran.stdout.ends_with('\n'));
        let from_stdin = jsonl_rows(&ran.stdout);
        check_rows(&from_stdin, &docs(&[("stdin", text.clone())]));
        assert!(from_stdin.iter().all(|r| r.source == "-"));

        let out = tmp.path().join("file.parquet");
        label_to(&model, &[&input], &out, &[]).ok();
        let from_file = labelled_rows(&out);
        assert_same_verdicts(&from_stdin, &from_file);
    }

    #[test]
    fn csv_output_format() {
        let tmp = tempfile::tempdir().unwrap();
        let model = tiny_model(tmp.path());
        let inputs = [fixture("statements.csv"), fixture("joint-statement.txt")];
        let inputs: Vec<&Path> = inputs.iter().map(PathBuf::as_path).collect();
        // --format wins over the extension.
        let out_csv = tmp.path().join("labels.out");
        label_to(&model, &inputs, &out_csv, &["--format", "csv"]).ok();
        let from_csv = csv_rows(&out_csv);
        let out_parquet = tmp.path().join("labels.parquet");
        label_to(&model, &inputs, &out_parquet, &[]).ok();
        let from_parquet = labelled_rows(&out_parquet);
        assert_eq!(from_csv.len(), from_parquet.len());
        for (c, p) in from_csv.iter().zip(&from_parquet) {
            assert_eq!(
                (&c.doc_id, &c.source, &c.label),
                (&p.doc_id, &p.source, &p.label)
            );
        }
        assert_same_verdicts(&from_csv, &from_parquet);
        assert!(from_csv
            .iter()
            .any(|r| r.text.contains("\"dialogue is the only way forward\"")));
    }

    #[test]
    fn empty_input_gives_an_empty_parquet_file_with_the_full_schema() {
        let tmp = tempfile::tempdir().unwrap();
        let model = tiny_model(tmp.path());
        let input = tmp.path().join("empty.txt");
        fs::write(&input, "").unwrap();
        let out = tmp.path().join("empty.parquet");
        label_to(&model, &[&input], &out, &[]).ok();
        let rows = labelled_rows(&out);
        assert!(rows.is_empty());
        assert_eq!(metadata(&out)["stance.schema_version"], "1");
    }

    #[test]
    fn output_order_is_input_order_despite_length_batching() {
        let tmp = tempfile::tempdir().unwrap();
        let model = tiny_model(tmp.path());
        let dir = tmp.path().join("in");
        fs::create_dir_all(&dir).unwrap();
        // Long sentences first, then short ones, then mixed: sorting by
        // length across files would reorder them.
        let long = "The Ministers reaffirmed that the three countries will continue to strengthen cooperation on missile warning data. ";
        let short = "They met. ";
        let inputs = [
            ("c-long.txt", long.repeat(5)),
            ("a-short.txt", short.repeat(7)),
            (
                "b-mixed.txt",
                format!("{short}{long}{short}{long}{short}Talks resumed. {long}"),
            ),
        ];
        let mut paths = Vec::new();
        for (name, text) in &inputs {
            let path = dir.join(name);
            fs::write(&path, text).unwrap();
            paths.push(path);
        }
        let path_refs: Vec<&Path> = paths.iter().map(PathBuf::as_path).collect();
        let out = tmp.path().join("all.parquet");
        label_to(&model, &path_refs, &out, &["--batch-size", "3"]).ok();
        let all = labelled_rows(&out);
        let documents = inputs
            .iter()
            .map(|(name, text)| (name.trim_end_matches(".txt").to_string(), text.clone()))
            .collect();
        check_rows(&all, &documents);
        assert_eq!(doc_order(&all), ["c-long", "a-short", "b-mixed"]);

        // Each file alone, one sentence per batch.
        let mut alone = Vec::new();
        for (i, path) in paths.iter().enumerate() {
            let out = tmp.path().join(format!("alone-{i}.parquet"));
            label_to(&model, &[path], &out, &["--batch-size", "1"]).ok();
            alone.extend(labelled_rows(&out));
        }
        assert_same_verdicts(&all, &alone);
        // The probabilities differ between long and short sentences, so a
        // mix-up of rows would show.
        let p_long = all[0].p;
        let p_short = all.iter().find(|r| r.text == "They met.").unwrap().p;
        assert!(p_long
            .iter()
            .zip(&p_short)
            .any(|(a, b)| (a - b).abs() > 1e-4));
    }

    #[test]
    fn summary_on_stderr_reports_counts_and_the_effective_token_limit() {
        let tmp = tempfile::tempdir().unwrap();
        let model = tiny_model(tmp.path());
        let input = fixture("joint-statement.txt");
        let out = tmp.path().join("labels.parquet");
        let ran = run(&[&"label", &input, &"-o", &out, &"--model", &model]).ok();
        let rows = labelled_rows(&out);
        let counts: Vec<String> = LABELS
            .iter()
            .map(|l| format!("{l} {}", rows.iter().filter(|r| r.label == *l).count()))
            .collect();
        // The tiny model has 64 positions, so the default of 128 tokens
        // cannot apply.
        let summary = format!("labelled 1 document, 8 sentences ({}); ", counts.join(", "));
        let ran = ran.stderr_has(&[&summary, "truncated to 64 tokens", "wrote "]);
        assert!(!ran.stderr.contains("128 tokens"), "{}", ran.stderr);
        let ran = run(&[
            &"label",
            &input,
            &"-o",
            &out,
            &"--model",
            &model,
            &"--max-tokens",
            &"12",
        ])
        .ok();
        let truncated: usize = ran
            .stderr
            .split("; ")
            .find_map(|part| part.strip_suffix(" truncated to 12 tokens"))
            .unwrap_or_else(|| panic!("no truncation count: {}", ran.stderr))
            .parse()
            .unwrap();
        assert!(truncated >= 5, "long sentences are cut: {}", ran.stderr);
    }

    #[test]
    fn closed_stdout_pipe_is_not_an_error() {
        use std::io::{BufRead, BufReader};
        let tmp = tempfile::tempdir().unwrap();
        let model = tiny_model(tmp.path());
        let input = generate_documents(&tmp.path().join("in"), 4, 1500, 3);
        let mut child = stance()
            .arg("label")
            .args(&input)
            .args(["-o", "-", "--format", "jsonl", "--quiet", "--model"])
            .arg(&model)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("stance starts");
        let mut first = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut first)
            .unwrap();
        // The reader is gone (like `| head -1`); the rest cannot be written.
        let out = child.wait_with_output().unwrap();
        let ran = Ran::from_output(out).ok();
        assert!(ran.stderr.is_empty(), "{}", ran.stderr);
        let row: Value = serde_json::from_str(&first).expect("a complete JSON line");
        assert_eq!(row["doc_id"], "part-000");
    }

    #[test]
    fn labels_are_deterministic() {
        let tmp = tempfile::tempdir().unwrap();
        let model = tiny_model(tmp.path());
        let inputs = [fixture("news-page.txt"), fixture("statements.jsonl")];
        let inputs: Vec<&Path> = inputs.iter().map(PathBuf::as_path).collect();
        let a = tmp.path().join("a.parquet");
        let b = tmp.path().join("b.parquet");
        label_to(&model, &inputs, &a, &[]).ok();
        label_to(&model, &inputs, &b, &[]).ok();
        assert_eq!(labelled_rows(&a), labelled_rows(&b));
        let ja = label_to(&model, &inputs, Path::new("-"), &["--format", "jsonl"]).ok();
        let jb = label_to(&model, &inputs, Path::new("-"), &["--format", "jsonl"]).ok();
        assert_eq!(ja.stdout, jb.stdout);
        assert!(!ja.stdout.is_empty());
    }

    #[test]
    fn a_model_that_orders_its_labels_otherwise_is_read_by_name() {
        // The same tiny weights (seed 7), once with the outputs named in
        // codebook order and once in alphabetical order, as a model trained
        // elsewhere may name them: output i means codebook[i] in one and
        // sorted[i] in the other.
        let tmp = tempfile::tempdir().unwrap();
        let codebook_order = tiny_model(tmp.path());
        let sorted = ["commitment", "condemnation", "diplomatic-opening", "other"];
        let sorted_order = tmp.path().join("sorted");
        let names = stance_model::LabelSet::new(sorted.map(String::from).to_vec());
        stance_model::testing::write_tiny_model(&sorted_order, Some(&names), 7).unwrap();

        let input = fixture("news-page.txt");
        let (a, b) = (tmp.path().join("a.parquet"), tmp.path().join("b.parquet"));
        label_to(&codebook_order, &[&input], &a, &[]).ok();
        label_to(&sorted_order, &[&input], &b, &[]).ok();
        let (a, b) = (labelled_rows(&a), labelled_rows(&b));
        assert!(!a.is_empty());
        for (x, y) in a.iter().zip(&b) {
            let output = LABELS.iter().position(|l| *l == x.label).unwrap();
            assert_eq!(y.label, sorted[output], "{}", x.text);
            for (i, name) in LABELS.iter().enumerate() {
                let shared = sorted.iter().position(|l| l == name).unwrap();
                assert_eq!(y.p[i], x.p[shared], "p_{name} of {}", x.text);
            }
        }

        // Labels that are not the codebook's, in any order, are refused.
        let other = tmp.path().join("other");
        let names = stance_model::LabelSet::new(["a", "b", "c", "d"].map(String::from).to_vec());
        stance_model::testing::write_tiny_model(&other, Some(&names), 7).unwrap();
        label_to(&other, &[&input], &tmp.path().join("c.parquet"), &[])
            .exits(2)
            .stderr_has(&[
                "the model's labels [\"a\", \"b\", \"c\", \"d\"] are not the codebook's",
            ]);
    }
}

// ---------------------------------------------------------------------------
// errors
// ---------------------------------------------------------------------------

mod errors {
    use super::*;

    /// Asserts a failed `label` left no output and no temporary file.
    #[track_caller]
    fn assert_no_output(out: &Path) {
        assert!(!out.exists(), "{} should not exist", out.display());
        assert_eq!(temp_files(out.parent().unwrap()), Vec::<String>::new());
    }

    #[test]
    fn missing_input_path() {
        let tmp = tempfile::tempdir().unwrap();
        let model = tiny_model(tmp.path());
        let missing = tmp.path().join("no-such-communique.txt");
        let out = tmp.path().join("out.parquet");
        label_to(&model, &[&missing], &out, &[])
            .exits(2)
            .stderr_has(&["no-such-communique.txt", "no such file"]);
        assert_no_output(&out);
    }

    #[test]
    fn malformed_jsonl_line_names_file_and_line() {
        let tmp = tempfile::tempdir().unwrap();
        let model = tiny_model(tmp.path());
        let input = tmp.path().join("broken.jsonl");
        fs::write(
            &input,
            "{\"id\": \"a\", \"text\": \"The Ministers met.\"}\n\
             {\"id\": \"b\", \"text\": \"They condemned the launch.\"}\n\
             \n\
             {\"id\": \"c\", \"text\": \"They pledged support.\"\n\
             {\"id\": \"d\", \"text\": \"Talks resumed.\"}\n",
        )
        .unwrap();
        let out = tmp.path().join("out.parquet");
        label_to(&model, &[&input], &out, &[])
            .exits(2)
            .stderr_has(&["broken.jsonl:4", "malformed JSON"]);
        assert_no_output(&out);
    }

    #[test]
    fn missing_csv_column_lists_the_columns_present() {
        let tmp = tempfile::tempdir().unwrap();
        let model = tiny_model(tmp.path());
        let input = tmp.path().join("columns.csv");
        fs::write(&input, "id,body,date\nx,The Ministers met.,2024-01-01\n").unwrap();
        let out = tmp.path().join("out.parquet");
        label_to(&model, &[&input], &out, &[])
            .exits(2)
            .stderr_has(&["columns.csv", "no column \"text\"", "id, body, date"]);
        assert_no_output(&out);
        // The alias names the column.
        label_to(&model, &[&input], &out, &["--text-column", "body"]).ok();
        assert_eq!(labelled_rows(&out).len(), 1);
    }

    #[test]
    fn invalid_utf8_names_the_file_and_lossy_succeeds() {
        let tmp = tempfile::tempdir().unwrap();
        let model = tiny_model(tmp.path());
        let input = tmp.path().join("latin1.txt");
        fs::write(&input, b"The Minister of D\xe9fense met his counterpart.\n").unwrap();
        let out = tmp.path().join("out.parquet");
        label_to(&model, &[&input], &out, &[])
            .exits(2)
            .stderr_has(&["latin1.txt", "UTF-8", "--lossy"]);
        assert_no_output(&out);
        label_to(&model, &[&input], &out, &["--lossy"]).ok();
        let rows = labelled_rows(&out);
        assert_eq!(rows.len(), 1);
        assert_eq!(
            rows[0].text,
            "The Minister of D\u{fffd}fense met his counterpart."
        );
    }

    #[test]
    fn model_without_weights_names_the_file_and_how_to_get_a_model() {
        let tmp = tempfile::tempdir().unwrap();
        let model = tiny_model(tmp.path());
        fs::remove_file(model.join("model.safetensors")).unwrap();
        let out = tmp.path().join("out.parquet");
        label_to(&model, &[&fixture("news-page.txt")], &out, &[])
            .exits(2)
            .stderr_has(&["model.safetensors", "tiny-model", "stance train"]);
        assert_no_output(&out);
        // A model directory that does not exist at all.
        let nowhere = tmp.path().join("no-model-here");
        let ran = label_to(&nowhere, &[&fixture("news-page.txt")], &out, &[])
            .exits(2)
            .stderr_has(&["no-model-here", "stance train"]);
        assert_eq!(
            ran.stderr.matches("no such model directory").count(),
            1,
            "the cause is printed once:\n{}",
            ran.stderr
        );
    }

    #[test]
    fn truncated_weights() {
        let tmp = tempfile::tempdir().unwrap();
        let model = tiny_model(tmp.path());
        let weights = model.join("model.safetensors");
        let bytes = fs::read(&weights).unwrap();
        fs::write(&weights, &bytes[..bytes.len() / 2]).unwrap();
        let out = tmp.path().join("out.parquet");
        label_to(&model, &[&fixture("news-page.txt")], &out, &[])
            .exits(2)
            .stderr_has(&["model.safetensors", "truncated"]);
        assert_no_output(&out);
    }

    #[test]
    fn config_hidden_size_that_does_not_match_the_weights() {
        let tmp = tempfile::tempdir().unwrap();
        let model = tiny_model(tmp.path());
        let config_path = model.join("config.json");
        let mut config: Value = serde_json::from_str(&read_text(&config_path)).unwrap();
        assert_eq!(config["hidden_size"], 32);
        config["hidden_size"] = 64.into();
        fs::write(&config_path, config.to_string()).unwrap();
        let out = tmp.path().join("out.parquet");
        label_to(&model, &[&fixture("news-page.txt")], &out, &[])
            .exits(2)
            .stderr_has(&["model.safetensors", "do not match config.json"]);
        assert_no_output(&out);
    }

    #[test]
    fn config_vocab_size_smaller_than_the_tokenizer() {
        let tmp = tempfile::tempdir().unwrap();
        let model = tiny_model(tmp.path());
        let config_path = model.join("config.json");
        let mut config: Value = serde_json::from_str(&read_text(&config_path)).unwrap();
        config["vocab_size"] = 50.into();
        fs::write(&config_path, config.to_string()).unwrap();
        let out = tmp.path().join("out.parquet");
        let ran = label_to(&model, &[&fixture("news-page.txt")], &out, &[]).exits(2);
        assert!(ran.stderr.contains("tiny-model"), "{}", ran.stderr);
        assert_no_output(&out);
    }

    #[test]
    fn tokenizer_from_another_vocabulary() {
        let tmp = tempfile::tempdir().unwrap();
        let model = tiny_model(tmp.path());
        // Same config and weights (132 tokens), but a tokenizer with a larger
        // vocabulary: its ids would index past the embedding matrix.
        let tokenizer_path = model.join("tokenizer.json");
        let mut tokenizer: Value = serde_json::from_str(&read_text(&tokenizer_path)).unwrap();
        let vocab = tokenizer["model"]["vocab"].as_object_mut().unwrap();
        let n = vocab.len();
        for i in 0..500 {
            vocab.insert(format!("zz{i}"), (n + i).into());
        }
        vocab.insert("ministers".into(), (n + 500).into());
        fs::write(&tokenizer_path, tokenizer.to_string()).unwrap();
        let out = tmp.path().join("out.parquet");
        label_to(&model, &[&fixture("joint-statement.txt")], &out, &[])
            .exits(2)
            .stderr_has(&["tokenizer.json", "vocab"]);
        assert_no_output(&out);
    }

    #[test]
    fn skip_errors_continues_past_bad_files_and_lists_them() {
        let tmp = tempfile::tempdir().unwrap();
        let model = tiny_model(tmp.path());
        let good_a = tmp.path().join("good-a.txt");
        let bad_json = tmp.path().join("bad.jsonl");
        let bad_utf8 = tmp.path().join("bad-bytes.txt");
        let good_b = tmp.path().join("good-b.txt");
        fs::write(&good_a, "The Ministers condemned the launch.").unwrap();
        fs::write(&bad_json, "{\"text\": \"fine\"}\n{not json}\n").unwrap();
        fs::write(&bad_utf8, b"caf\xe9 talks").unwrap();
        fs::write(&good_b, "Both sides agreed to reopen the hotline.").unwrap();
        let out = tmp.path().join("out.parquet");
        let inputs: [&Path; 4] = [&good_a, &bad_json, &bad_utf8, &good_b];
        // Without --skip-errors the run fails on the first bad file.
        label_to(&model, &inputs, &out, &[])
            .exits(2)
            .stderr_has(&["bad.jsonl:2"]);
        assert_no_output(&out);
        let ran = label_to(&model, &inputs, &out, &["--skip-errors"])
            .ok()
            .stderr_has(&["skipped 2 files:", "bad.jsonl:2", "bad-bytes.txt"]);
        assert!(!ran.stderr.contains("good-a.txt"), "{}", ran.stderr);
        let rows = labelled_rows(&out);
        assert_eq!(doc_order(&rows), ["good-a", "good-b"]);
    }

    /// A previous output, then a run whose input list ends with a bad file:
    /// the old file stays byte-identical and no temporary file is left.
    fn failed_run_keeps_previous_output(out_name: &str, good_sentences: usize) {
        let tmp = tempfile::tempdir().unwrap();
        let model = tiny_model(tmp.path());
        let work = tmp.path().join("work");
        fs::create_dir_all(&work).unwrap();
        let out = work.join(out_name);
        label_to(&model, &[&fixture("news-page.txt")], &out, &[]).ok();
        let previous = fs::read(&out).unwrap();

        let good = generate_documents(&tmp.path().join("in"), 1, good_sentences, 1);
        let bad = tmp.path().join("in").join("zz-bad.jsonl");
        fs::write(&bad, "{\"text\": \"The talks resumed.\"}\n[1, 2]\n").unwrap();
        label_to(&model, &[&good[0], &bad], &out, &[])
            .exits(2)
            .stderr_has(&["zz-bad.jsonl:2"]);
        assert_eq!(fs::read(&out).unwrap(), previous, "previous output changed");
        assert_eq!(temp_files(&work), Vec::<String>::new());
    }

    #[test]
    fn failed_run_keeps_previous_parquet_output() {
        failed_run_keeps_previous_output("labels.parquet", 20);
    }

    #[test]
    fn failed_run_after_rows_were_written_keeps_previous_output() {
        // More sentences than one labelling chunk (4096), so rows reach the
        // temporary file before the bad input is read.
        failed_run_keeps_previous_output("labels.jsonl", 4200);
    }

    #[test]
    fn unknown_output_extension_defaults_to_parquet_and_bad_format_is_rejected() {
        let tmp = tempfile::tempdir().unwrap();
        let model = tiny_model(tmp.path());
        let out = tmp.path().join("labels.data");
        label_to(
            &model,
            &[&fixture("readouts.jsonl")],
            &out,
            &["--text-field", "body"],
        )
        .ok()
        .stderr_has(&[
            "labels.data: .data is not an output format",
            "writing Parquet",
        ]);
        assert_eq!(labelled_rows(&out).len(), 3);
        // clap rejects an unknown --format value with its usage error (2).
        label_to(
            &model,
            &[&fixture("readouts.jsonl")],
            &out,
            &["--format", "xlsx"],
        )
        .exits(2);
    }

    #[test]
    fn zero_counts_are_usage_errors_naming_the_flag() {
        let tmp = tempfile::tempdir().unwrap();
        let model = tiny_model(tmp.path());
        let out = tmp.path().join("out.jsonl");
        let input = fixture("joint-statement.txt");
        for (flag, value, message) in [
            ("--batch-size", "0", "must be at least 1"),
            ("--max-tokens", "1", "must be at least 2"),
            ("--threads", "0", "must be at least 1"),
        ] {
            label_to(&model, &[&input], &out, &[flag, value])
                .exits(2)
                .stderr_has(&[flag, message]);
        }
        assert!(!out.exists());
        run(&[
            &"eval",
            &"--gold",
            &fixture("gold.jsonl"),
            &"--batch-size",
            &"0",
        ])
        .exits(2)
        .stderr_has(&["--batch-size", "must be at least 1"]);
    }

    #[test]
    fn parquet_is_not_written_to_a_terminal() {
        // `script` (util-linux) runs the binary with a pseudo-terminal as its
        // standard output.
        if Command::new("script").arg("--version").output().is_err() {
            eprintln!(
                "skipped: `script` (util-linux) is not installed, so no terminal to test with"
            );
            return;
        }
        let tmp = tempfile::tempdir().unwrap();
        let model = tiny_model(tmp.path());
        let input = fixture("joint-statement.txt");
        let label_to_terminal = |extra: &str| {
            let command = format!(
                "{} label --quiet --model {} {} -o - {extra}; echo \"exit $?\"",
                env!("CARGO_BIN_EXE_stance"),
                model.display(),
                input.display()
            );
            let out = Command::new("script")
                .args(["-qec", &command, "/dev/null"])
                .stdin(Stdio::null())
                .output()
                .unwrap();
            String::from_utf8_lossy(&out.stdout).into_owned()
        };
        let refused = label_to_terminal("");
        assert!(
            refused.contains("not writing Parquet (binary) to the terminal")
                && refused.contains("exit 2"),
            "{refused}"
        );
        let jsonl = label_to_terminal("--format jsonl");
        assert!(
            jsonl.contains("\"doc_id\":\"joint-statement\"") && jsonl.contains("exit 0"),
            "{jsonl}"
        );
    }
}

// ---------------------------------------------------------------------------
// interruption
// ---------------------------------------------------------------------------

mod interruption {
    use super::*;
    use std::time::{Duration, Instant};

    /// Starts `stance label` on a large input, sends `signal` while the
    /// output is being written, and checks the exit status, that the previous
    /// output is intact and that no temporary file is left.
    fn interrupted_run(signal: &str, expected_code: i32) {
        let tmp = tempfile::tempdir().unwrap();
        let model = tiny_model(tmp.path());
        let work = tmp.path().join("work");
        fs::create_dir_all(&work).unwrap();
        let out = work.join("labels.parquet");
        label_to(&model, &[&fixture("news-page.txt")], &out, &[]).ok();
        let previous = fs::read(&out).unwrap();

        let mut sentences = 3000;
        for attempt in 0..5 {
            let input = tmp.path().join(format!("in-{attempt}"));
            generate_documents(&input, 10, sentences / 10, attempt);
            let stderr_path = tmp.path().join(format!("stderr-{attempt}.txt"));
            let mut child = stance()
                .args([
                    OsStr::new("label"),
                    input.as_os_str(),
                    OsStr::new("-o"),
                    out.as_os_str(),
                ])
                .args([
                    OsStr::new("--model"),
                    model.as_os_str(),
                    OsStr::new("--quiet"),
                ])
                .stdout(Stdio::null())
                .stderr(fs::File::create(&stderr_path).unwrap())
                .spawn()
                .expect("stance starts");
            let pid = child.id();
            let temp = work.join(format!(".labels.parquet.tmp-{pid}"));
            // Wait until the output is being written, then a little longer.
            let started = Instant::now();
            while !temp.exists()
                && child.try_wait().unwrap().is_none()
                && started.elapsed() < Duration::from_secs(30)
            {
                std::thread::sleep(Duration::from_millis(5));
            }
            std::thread::sleep(Duration::from_millis(300));
            if child.try_wait().unwrap().is_some() {
                // Finished before the signal: try again with more input.
                let status = child.wait().unwrap();
                assert!(status.success(), "{}", read_text(&stderr_path));
                fs::write(&out, &previous).unwrap();
                sentences *= 3;
                eprintln!("run finished within 300 ms; retrying with {sentences} sentences");
                continue;
            }
            let kill = Command::new("kill")
                .args([format!("-{signal}"), pid.to_string()])
                .status()
                .expect("kill runs");
            assert!(kill.success());
            let status = child.wait().unwrap();
            let stderr = read_text(&stderr_path);
            assert!(!status.success(), "interrupted run exited with {status}");
            // The handler exits with 128 + the signal number.
            assert_eq!(status.code(), Some(expected_code), "{status}: {stderr}");
            assert!(stderr.contains("interrupted"), "{stderr}");
            assert!(!stderr.contains("panicked"), "{stderr}");
            assert_eq!(fs::read(&out).unwrap(), previous, "previous output changed");
            assert_eq!(temp_files(&work), Vec::<String>::new());
            return;
        }
        panic!("stance label always finished before it could be interrupted");
    }

    #[test]
    fn sigterm_leaves_previous_output_and_no_temp_files() {
        interrupted_run("TERM", 128 + 15);
    }

    #[test]
    fn sigint_leaves_previous_output_and_no_temp_files() {
        interrupted_run("INT", 130);
    }
}

// ---------------------------------------------------------------------------
// eval
// ---------------------------------------------------------------------------

mod eval {
    use super::*;

    fn metrics(report: &Path) -> Value {
        serde_json::from_str(&read_text(&report.join("metrics.json")))
            .expect("metrics.json is JSON")
    }

    fn gold_labels() -> Vec<String> {
        read_text(&fixture("gold.jsonl"))
            .lines()
            .map(|l| {
                serde_json::from_str::<Value>(l).unwrap()["label"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect()
    }

    #[test]
    fn model_eval_writes_report_metrics_and_predictions() {
        let tmp = tempfile::tempdir().unwrap();
        let model = tiny_model(tmp.path());
        let report = tmp.path().join("report");
        let gold = fixture("gold.jsonl");
        let ran = run(&[
            &"eval",
            &"--gold",
            &gold,
            &"--model",
            &model,
            &"--report",
            &report,
            &"--bootstrap",
            &"200",
            &"--quiet",
        ])
        .ok();
        assert!(ran.stdout.contains("accuracy"), "{}", ran.stdout);
        let md = read_text(&report.join("report.md"));
        assert!(md.contains("tiny-model"), "{md}");

        let m = metrics(&report);
        for key in [
            "accuracy",
            "macro_f1",
            "per_label",
            "confusion",
            "bootstrap",
            "calibration",
            "lenient_accuracy",
            "by_source",
        ] {
            assert!(!m[key].is_null(), "metrics.json lacks {key}: {m}");
        }
        assert_eq!(m["n"], 16);
        assert_eq!(m["per_label"].as_array().unwrap().len(), 4);
        assert_eq!(m["confusion"]["counts"].as_array().unwrap().len(), 4);
        let confusion_total: u64 = m["confusion"]["counts"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|r| r.as_array().unwrap())
            .map(|c| c.as_u64().unwrap())
            .sum();
        assert_eq!(confusion_total, 16);
        let sources: Vec<&str> = m["by_source"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["source"].as_str().unwrap())
            .collect();
        assert_eq!(sources, ["joint-statement", "news"]);
        assert_eq!(
            m["model_sha256"],
            sha256_hex(&model.join("model.safetensors"))
        );

        let df = read_parquet(&report.join("predictions.parquet"));
        let names: Vec<String> = df
            .get_column_names()
            .iter()
            .map(|n| n.to_string())
            .collect();
        for column in [
            "text",
            "gold",
            "predicted",
            "correct",
            "p_condemnation",
            "p_commitment",
            "p_diplomatic_opening",
            "p_other",
        ] {
            assert!(
                names.iter().any(|n| n == column),
                "predictions.parquet lacks {column}: {names:?}"
            );
        }
        assert_eq!(df.height(), 16);
        let gold_col = str_column(&df, "gold");
        assert_eq!(gold_col, gold_labels());
        let predicted = str_column(&df, "predicted");
        let correct: Vec<bool> = df
            .column("correct")
            .unwrap()
            .bool()
            .unwrap()
            .iter()
            .map(|b| b.unwrap())
            .collect();
        for i in 0..16 {
            assert_eq!(correct[i], gold_col[i] == predicted[i]);
        }
        let accuracy = correct.iter().filter(|c| **c).count() as f64 / 16.0;
        assert!((m["accuracy"].as_f64().unwrap() - accuracy).abs() < 1e-12);
        let p: Vec<Vec<f32>> = [
            "p_condemnation",
            "p_commitment",
            "p_diplomatic_opening",
            "p_other",
        ]
        .iter()
        .map(|c| f32_column(&df, c))
        .collect();
        for i in 0..16 {
            let sum: f32 = p.iter().map(|col| col[i]).sum();
            assert!((sum - 1.0).abs() < 1e-4);
        }
    }

    #[test]
    fn majority_baseline_accuracy_is_the_majority_share() {
        let tmp = tempfile::tempdir().unwrap();
        let report = tmp.path().join("report");
        run(&[
            &"eval",
            &"--gold",
            &fixture("gold.jsonl"),
            &"--baseline",
            &"majority",
            &"--report",
            &report,
            &"--quiet",
        ])
        .ok();
        let labels = gold_labels();
        let majority_count = labels.iter().filter(|l| *l == "condemnation").count();
        assert_eq!(
            (labels.len(), majority_count),
            (16, 5),
            "the fixture's label counts"
        );
        let m = metrics(&report);
        assert_eq!(m["accuracy"].as_f64().unwrap(), 5.0 / 16.0);
        assert_eq!(m["model"], "baseline:majority");
        let df = read_parquet(&report.join("predictions.parquet"));
        assert!(str_column(&df, "predicted")
            .iter()
            .all(|p| p == "condemnation"));
    }

    #[test]
    fn lexicon_baseline_uses_cue_phrases() {
        let tmp = tempfile::tempdir().unwrap();
        let report = tmp.path().join("report");
        run(&[
            &"eval",
            &"--gold",
            &fixture("gold.jsonl"),
            &"--baseline",
            &"lexicon",
            &"--report",
            &report,
            &"--quiet",
        ])
        .ok();
        let m = metrics(&report);
        assert_eq!(m["model"], "baseline:lexicon");
        let df = read_parquet(&report.join("predictions.parquet"));
        let texts = str_column(&df, "text");
        let predicted = str_column(&df, "predicted");
        let i = texts
            .iter()
            .position(|t| t.starts_with("We condemn in the strongest terms"))
            .unwrap();
        assert_eq!(predicted[i], "condemnation");
        // Cue phrases beat always answering the most frequent label here.
        assert!(m["accuracy"].as_f64().unwrap() > 5.0 / 16.0, "{m}");
    }

    #[test]
    fn min_macro_f1_gate() {
        let gold = fixture("gold.jsonl");
        let ran = run(&[
            &"eval",
            &"--gold",
            &gold,
            &"--baseline",
            &"majority",
            &"--min-macro-f1",
            &"1",
            &"--quiet",
        ])
        .exits(1);
        assert!(ran.stderr.contains("below"), "{}", ran.stderr);
        run(&[
            &"eval",
            &"--gold",
            &gold,
            &"--baseline",
            &"majority",
            &"--min-macro-f1",
            &"0.05",
            &"--quiet",
        ])
        .ok();
        let tmp = tempfile::tempdir().unwrap();
        let model = tiny_model(tmp.path());
        run(&[
            &"eval",
            &"--gold",
            &gold,
            &"--model",
            &model,
            &"--min-macro-f1",
            &"1",
            &"--quiet",
        ])
        .exits(1);
        // Not a score: a usage error, not a gate that never fires.
        for bad in ["NaN", "1.01", "inf", "high"] {
            run(&[
                &"eval",
                &"--gold",
                &gold,
                &"--baseline",
                &"majority",
                &"--min-macro-f1",
                &bad,
            ])
            .exits(2)
            .stderr_has(&["--min-macro-f1", "from 0 to 1"]);
        }
        // A folder given as the gold file says so.
        run(&[&"eval", &"--gold", &tmp.path(), &"--baseline", &"majority"])
            .exits(2)
            .stderr_has(&["is a directory"]);
    }

    #[test]
    fn unknown_gold_label_names_file_and_line() {
        let tmp = tempfile::tempdir().unwrap();
        let text = read_text(&fixture("gold.jsonl"));
        let lines: Vec<String> = text
            .lines()
            .enumerate()
            .map(|(i, l)| {
                if i == 3 {
                    l.replace("\"condemnation\"", "\"praise\"")
                } else {
                    l.to_string()
                }
            })
            .collect();
        assert!(lines[3].contains("praise"));
        let bad = tmp.path().join("gold-bad.jsonl");
        fs::write(&bad, lines.join("\n") + "\n").unwrap();
        run(&[
            &"eval",
            &"--gold",
            &bad,
            &"--baseline",
            &"majority",
            &"--quiet",
        ])
        .exits(2)
        .stderr_has(&["gold-bad.jsonl:4", "\"praise\""]);
    }
}

// ---------------------------------------------------------------------------
// summarize
// ---------------------------------------------------------------------------

mod summarize {
    use super::*;

    /// Labels two fixtures and returns the output and its per-doc counts.
    fn labelled(tmp: &Path) -> (PathBuf, Vec<(String, [u64; 4])>) {
        let model = tiny_model(tmp);
        let out = tmp.join("labels.parquet");
        label_to(
            &model,
            &[
                &fixture("statements.jsonl"),
                &fixture("joint-statement.txt"),
            ],
            &out,
            &[],
        )
        .ok();
        let mut counts: Vec<(String, [u64; 4])> = Vec::new();
        for r in labelled_rows(&out) {
            if counts.last().map(|c| &c.0) != Some(&r.doc_id) {
                counts.push((r.doc_id.clone(), [0; 4]));
            }
            let l = LABELS.iter().position(|x| *x == r.label).unwrap();
            counts.last_mut().unwrap().1[l] += 1;
        }
        assert_eq!(counts.len(), 4);
        (out, counts)
    }

    #[test]
    fn reads_jsonl_and_csv_output_as_it_reads_parquet() {
        let tmp = tempfile::tempdir().unwrap();
        let (parquet, _) = labelled(tmp.path());
        let model = tmp.path().join("tiny-model");
        let inputs = [fixture("statements.jsonl"), fixture("joint-statement.txt")];
        let inputs: Vec<&Path> = inputs.iter().map(PathBuf::as_path).collect();
        let expected = run(&[&"summarize", &parquet]).ok().stdout;
        for name in ["labels.jsonl", "labels.csv"] {
            let out = tmp.path().join(name);
            label_to(&model, &inputs, &out, &[]).ok();
            assert_eq!(run(&[&"summarize", &out]).ok().stdout, expected, "{name}");
        }
        let broken = tmp.path().join("broken.jsonl");
        fs::write(
            &broken,
            "{\"doc_id\": \"a\", \"label\": \"other\"}\n{\"doc_id\": \"a\"}\n",
        )
        .unwrap();
        run(&[&"summarize", &broken])
            .exits(2)
            .stderr_has(&["broken.jsonl:2", "label"]);
    }

    #[test]
    fn odd_doc_ids_keep_the_table_aligned_and_the_terminal_safe() {
        // A label output written by another tool: a doc_id with a newline
        // and a terminal escape, one with wide characters, one far too long.
        let tmp = tempfile::tempdir().unwrap();
        let labels = tmp.path().join("labels.jsonl");
        let long = "x".repeat(100);
        let rows = [
            ("a\nb\u{1b}[2J", "other"),
            ("日本語の声明", "condemnation"),
            (long.as_str(), "commitment"),
        ];
        let text: String = rows
            .iter()
            .map(|(doc, label)| format!("{}\n", serde_json::json!({"doc_id": doc, "label": label})))
            .collect();
        fs::write(&labels, text).unwrap();
        let ran = run(&[&"summarize", &labels]).ok();
        assert!(!ran.stdout.contains('\u{1b}'), "{:?}", ran.stdout);
        let lines: Vec<&str> = ran.stdout.lines().collect();
        assert_eq!(lines.len(), 2 + rows.len(), "{}", ran.stdout);
        assert!(lines[1].starts_with("a\\nb\\u{1b}[2J "), "{}", lines[1]);
        assert!(
            lines[3].starts_with(&format!("{}…", "x".repeat(59))),
            "{}",
            lines[3]
        );
        // Every row ends its sentence count (1 here) at the terminal column
        // where the header ends "sentences".
        let column = |line: &str, field: &str| {
            let end = line.find(field).unwrap() + field.len();
            stance_eval::render::display_width(&line[..end])
        };
        let header = column(lines[0], "sentences");
        for line in &lines[1..=rows.len()] {
            assert_eq!(column(line, "        1 "), header + 1, "{}", ran.stdout);
        }
    }

    #[test]
    fn prints_per_document_counts() {
        let tmp = tempfile::tempdir().unwrap();
        let (out, counts) = labelled(tmp.path());
        let ran = run(&[&"summarize", &out]).ok();
        let lines: Vec<&str> = ran.stdout.lines().collect();
        assert!(lines[0].starts_with("doc_id"), "{}", ran.stdout);
        for l in LABELS {
            assert!(lines[0].contains(l), "header lacks {l}: {}", lines[0]);
        }
        assert_eq!(lines.len(), counts.len() + 2, "{}", ran.stdout);
        let parse = |line: &str| -> (String, u64, Vec<u64>) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            // Shares may be padded ("(  0.0%)"): the counts are the tokens
            // that parse as integers.
            let numbers: Vec<u64> = fields[2..].iter().filter_map(|f| f.parse().ok()).collect();
            (fields[0].to_string(), fields[1].parse().unwrap(), numbers)
        };
        let mut totals = [0u64; 4];
        for (line, (doc, c)) in lines[1..].iter().zip(&counts) {
            let (id, sentences, numbers) = parse(line);
            assert_eq!(&id, doc);
            assert_eq!(sentences, c.iter().sum::<u64>());
            assert_eq!(numbers, c);
            for k in 0..4 {
                totals[k] += c[k];
            }
        }
        let (all, sentences, numbers) = parse(lines.last().unwrap());
        assert_eq!(all, "all");
        assert_eq!(sentences, totals.iter().sum::<u64>());
        assert_eq!(numbers, totals);
    }

    #[test]
    fn writes_csv_and_parquet_tables() {
        let tmp = tempfile::tempdir().unwrap();
        let (out, counts) = labelled(tmp.path());

        let csv_path = tmp.path().join("summary.csv");
        run(&[&"summarize", &out, &"-o", &csv_path]).ok();
        let mut reader = csv::Reader::from_path(&csv_path).unwrap();
        let header: Vec<String> = reader
            .headers()
            .unwrap()
            .iter()
            .map(str::to_string)
            .collect();
        assert_eq!(
            header,
            [
                "doc_id",
                "sentences",
                "n_condemnation",
                "n_commitment",
                "n_diplomatic_opening",
                "n_other",
                "share_condemnation",
                "share_commitment",
                "share_diplomatic_opening",
                "share_other",
            ]
        );
        let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
        assert_eq!(records.len(), counts.len());
        for (r, (doc, c)) in records.iter().zip(&counts) {
            assert_eq!(&r[0], doc);
            assert_eq!(r[1].parse::<u64>().unwrap(), c.iter().sum::<u64>());
            for k in 0..4 {
                assert_eq!(r[2 + k].parse::<u64>().unwrap(), c[k]);
            }
            let shares: f64 = (6..10).map(|k| r[k].parse::<f64>().unwrap()).sum();
            assert!((shares - 1.0).abs() < 1e-5);
        }

        let parquet_path = tmp.path().join("summary.parquet");
        run(&[&"summarize", &out, &"-o", &parquet_path]).ok();
        let df = read_parquet(&parquet_path);
        assert_eq!(
            str_column(&df, "doc_id"),
            counts.iter().map(|c| c.0.clone()).collect::<Vec<_>>()
        );
        let sentences: Vec<u64> = u64_column(&df, "sentences");
        assert_eq!(
            sentences,
            counts
                .iter()
                .map(|c| c.1.iter().sum::<u64>())
                .collect::<Vec<_>>()
        );
        let n_other = u64_column(&df, "n_other");
        assert_eq!(n_other, counts.iter().map(|c| c.1[3]).collect::<Vec<_>>());
        assert_eq!(temp_files(tmp.path()), Vec::<String>::new());
    }

    #[test]
    fn refuses_to_overwrite_its_input_and_names_the_line_of_a_bad_label() {
        let tmp = tempfile::tempdir().unwrap();
        let (out, _) = labelled(tmp.path());
        let csv = tmp.path().join("labels.csv");
        fs::write(
            &csv,
            "doc_id,source,paragraph,sentence,char_start,char_end,text,label,confidence\n\
             a,a.txt,0,0,0,3,Hi.,other,0.9\n\
             a,a.txt,0,1,4,7,Yo.,Other,0.9\n",
        )
        .unwrap();
        let before = fs::read(&csv).unwrap();
        run(&[&"summarize", &csv, &"-o", &csv])
            .exits(2)
            .stderr_has(&["both the input and the output"]);
        assert_eq!(fs::read(&csv).unwrap(), before);
        run(&[&"summarize", &csv]).exits(2).stderr_has(&[
            "labels.csv:3:",
            "unknown label \"Other\"",
            "did you mean",
        ]);
        // An output extension that is not a summary format gets a warning.
        let odd = tmp.path().join("summary.jsonl");
        run(&[&"summarize", &out, &"-o", &odd])
            .ok()
            .stderr_has(&[".jsonl is not a summary format", "writing Parquet"]);
    }

    #[test]
    fn rejects_a_file_that_is_not_a_label_output() {
        let tmp = tempfile::tempdir().unwrap();
        let report = tmp.path().join("report");
        run(&[
            &"eval",
            &"--gold",
            &fixture("gold.jsonl"),
            &"--baseline",
            &"majority",
            &"--report",
            &report,
            &"--quiet",
        ])
        .ok();
        let predictions = report.join("predictions.parquet");
        run(&[&"summarize", &predictions])
            .exits(2)
            .stderr_has(&["predictions.parquet", "no column"]);
    }
}

// ---------------------------------------------------------------------------
// calibrate
// ---------------------------------------------------------------------------

mod calibrate {
    use super::*;

    #[test]
    fn a_fit_at_the_edge_of_the_range_is_not_stored() {
        let tmp = tempfile::tempdir().unwrap();
        let model = tiny_model_named(tmp.path(), "calibrated");
        let config_path = model.join("config.json");
        let before = fs::read(&config_path).unwrap();
        // One sentence with the label the model gives it: the likelihood
        // keeps rising as the temperature falls, to the bottom of the range.
        let probe = tmp.path().join("probe.jsonl");
        fs::write(
            &probe,
            "{\"text\":\"We condemn the launch.\",\"label\":\"other\"}\n",
        )
        .unwrap();
        let predicted = tmp.path().join("probe-out.jsonl");
        label_to(&model, &[&probe], &predicted, &["--input-format", "jsonl"]).ok();
        let label = jsonl_rows(&read_text(&predicted))[0].label.clone();
        let dev = tmp.path().join("one.jsonl");
        fs::write(
            &dev,
            format!("{{\"text\":\"We condemn the launch.\",\"label\":\"{label}\"}}\n"),
        )
        .unwrap();
        run(&[&"calibrate", &"--dev", &dev, &"--model", &model, &"--quiet"])
            .exits(2)
            .stderr_has(&[
                "unreliable",
                "at the edge of the search range",
                "nothing stored",
            ]);
        assert_eq!(fs::read(&config_path).unwrap(), before);
    }

    #[test]
    fn stores_the_temperature_and_label_still_works() {
        let tmp = tempfile::tempdir().unwrap();
        let model = tiny_model_named(tmp.path(), "calibrated");
        let config_path = model.join("config.json");
        let gold = fixture("gold.jsonl");
        let input = fixture("joint-statement.txt");
        let before_out = tmp.path().join("before.parquet");
        label_to(&model, &[&input], &before_out, &[]).ok();
        let config_before = fs::read(&config_path).unwrap();

        let ran = run(&[
            &"calibrate",
            &"--dev",
            &gold,
            &"--model",
            &model,
            &"--dry-run",
            &"--quiet",
        ])
        .ok();
        assert!(ran.stdout.contains("temperature"), "{}", ran.stdout);
        assert_eq!(
            fs::read(&config_path).unwrap(),
            config_before,
            "--dry-run changed config.json"
        );

        run(&[
            &"calibrate",
            &"--dev",
            &gold,
            &"--model",
            &model,
            &"--quiet",
        ])
        .ok();
        let old: Value = serde_json::from_slice(&config_before).unwrap();
        let new: Value = serde_json::from_str(&read_text(&config_path)).unwrap();
        let t = new["stance_temperature"]
            .as_f64()
            .expect("stance_temperature is a number");
        assert!(t.is_finite() && t > 0.0, "temperature {t}");
        for (key, value) in old.as_object().unwrap() {
            if key != "stance_temperature" {
                assert_eq!(&new[key], value, "config.json key {key} changed");
            }
        }
        assert_eq!(temp_files(&model), Vec::<String>::new());

        let after_out = tmp.path().join("after.parquet");
        label_to(&model, &[&input], &after_out, &[]).ok();
        let (before, after) = (labelled_rows(&before_out), labelled_rows(&after_out));
        assert_eq!(before.len(), after.len());
        for (b, a) in before.iter().zip(&after) {
            assert_eq!(
                b.label, a.label,
                "a temperature does not change the arg-max"
            );
        }
        if (t - 1.0).abs() > 1e-3 {
            assert!(
                before
                    .iter()
                    .zip(&after)
                    .any(|(b, a)| (b.confidence - a.confidence).abs() > 1e-5),
                "temperature {t} should change the probabilities"
            );
        }
        let meta = metadata(&after_out);
        assert_eq!(meta["stance.model"], "calibrated");
    }
}

// ---------------------------------------------------------------------------
// train
// ---------------------------------------------------------------------------

mod train {
    use super::*;
    use std::ffi::OsStr;

    /// Writes a tiny random encoder into `parent/tiny-base`.
    fn tiny_base(parent: &Path) -> PathBuf {
        let base = parent.join("tiny-base");
        stance_model::testing::write_tiny_model(&base, None, 11).unwrap();
        base
    }

    /// Runs `stance train --quiet` from `base` into `out`, with the gold
    /// fixture as both training and dev set, and `extra` flags.
    fn train_on_fixture(base: &Path, out: &Path, extra: &[&dyn AsRef<OsStr>]) -> Ran {
        let gold = fixture("gold.jsonl");
        let mut args: Vec<&dyn AsRef<OsStr>> = vec![
            &"train", &"--train", &gold, &"--dev", &gold, &"--base", &base, &"--out", &out,
            &"--quiet",
        ];
        args.extend_from_slice(extra);
        run(&args)
    }

    #[test]
    fn trains_a_tiny_encoder_and_the_result_labels() {
        let tmp = tempfile::tempdir().unwrap();
        let base = tiny_base(tmp.path());
        let out = tmp.path().join("trained");
        train_on_fixture(
            &base,
            &out,
            &[
                &"--epochs",
                &"3",
                &"--lr",
                &"1e-3",
                &"--layer-decay",
                &"0.9",
                &"--label-smoothing",
                &"0.1",
                &"--freeze-word-embeddings",
                &"--rdrop",
                &"2",
                &"--batch-size",
                &"4",
            ],
        )
        .ok();
        for file in [
            "config.json",
            "model.safetensors",
            "tokenizer.json",
            "training.json",
        ] {
            assert!(out.join(file).is_file(), "{file} was not written");
        }
        let config: Value = serde_json::from_str(&read_text(&out.join("config.json"))).unwrap();
        let id2label: BTreeMap<String, String> =
            serde_json::from_value(config["id2label"].clone()).unwrap();
        let expected: BTreeMap<String, String> = LABELS
            .iter()
            .enumerate()
            .map(|(i, l)| (i.to_string(), l.to_string()))
            .collect();
        assert_eq!(id2label, expected);
        assert_eq!(
            fs::read(out.join("tokenizer.json")).unwrap(),
            fs::read(base.join("tokenizer.json")).unwrap()
        );
        let log: Value = serde_json::from_str(&read_text(&out.join("training.json"))).unwrap();
        assert_eq!(log["train_sentences"], 16);
        assert_eq!(log["layer_decay"], 0.9);
        assert_eq!(log["label_smoothing"], 0.1);
        assert_eq!(log["freeze_word_embeddings"], true);
        assert_eq!(log["rdrop"], 2.0);
        let best = log["best_epoch"].as_u64().unwrap();
        assert!((1..=3).contains(&best), "{log}");
        let epochs = log["epochs_run"].as_array().unwrap();
        assert!(!epochs.is_empty() && epochs.len() <= 3);

        let labels = tmp.path().join("labels.parquet");
        label_to(&out, &[&fixture("news-page.txt")], &labels, &[]).ok();
        let rows = labelled_rows(&labels);
        check_rows(
            &rows,
            &docs(&[("news-page", read_text(&fixture("news-page.txt")))]),
        );
        let meta = metadata(&labels);
        assert_eq!(meta["stance.model"], "trained");
        assert_eq!(
            meta["stance.model_sha256"],
            sha256_hex(&out.join("model.safetensors"))
        );
    }

    #[test]
    fn a_context_model_reads_the_sentence_before_when_labelling_and_scoring() {
        let tmp = tempfile::tempdir().unwrap();
        let base = tiny_base(tmp.path());
        let out = tmp.path().join("trained");
        let gold = fixture("gold.jsonl");
        train_on_fixture(
            &base,
            &out,
            &[
                &"--epochs",
                &"1",
                &"--lr",
                &"1e-4",
                &"--seed",
                &"42",
                &"--max-tokens",
                &"32",
                &"--context-tokens",
                &"8",
            ],
        )
        .ok();
        let config: Value = serde_json::from_str(&read_text(&out.join("config.json"))).unwrap();
        assert_eq!(config["stance_context_tokens"], 8);
        let log: Value = serde_json::from_str(&read_text(&out.join("training.json"))).unwrap();
        assert_eq!(log["context_tokens"], 8);

        // The same sentence after different sentences gets different scores.
        let a = tmp.path().join("a.txt");
        let b = tmp.path().join("b.txt");
        fs::write(&a, "The ministers met in Seoul.\nWe condemn the attack.\n").unwrap();
        fs::write(&b, "We are ready for dialogue.\nWe condemn the attack.\n").unwrap();
        let labels = tmp.path().join("labels.parquet");
        label_to(&out, &[&a, &b], &labels, &["--max-tokens", "32"]).ok();
        let rows = labelled_rows(&labels);
        let second: Vec<&Row> = rows
            .iter()
            .filter(|r| r.text == "We condemn the attack.")
            .collect();
        assert_eq!(second.len(), 2, "{rows:?}");
        assert_ne!(second[0].doc_id, second[1].doc_id);
        assert_ne!(second[0].p, second[1].p, "the sentence before is read");

        // A document given a sentence per record, under one doc_id, reads on
        // across records; records of other documents do not.
        let records = tmp.path().join("records.jsonl");
        fs::write(
            &records,
            concat!(
                r#"{"id": "d1", "text": "We are ready for dialogue."}"#,
                "\n",
                r#"{"id": "d1", "text": "We condemn the attack."}"#,
                "\n",
                r#"{"id": "d2", "text": "We condemn the attack."}"#,
                "\n",
            ),
        )
        .unwrap();
        let alone = tmp.path().join("alone.txt");
        fs::write(&alone, "We condemn the attack.\n").unwrap();
        let more = tmp.path().join("more.parquet");
        label_to(&out, &[&records, &alone], &more, &["--max-tokens", "32"]).ok();
        let rows = labelled_rows(&more);
        assert_eq!(rows.len(), 4, "{rows:?}");
        let close = |a: &[f32; 4], b: &[f32; 4]| a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-5);
        assert!(close(&rows[1].p, &second[1].p), "{rows:?} vs {second:?}");
        assert!(close(&rows[2].p, &rows[3].p), "{rows:?}");
        assert!(!close(&rows[1].p, &rows[2].p), "{rows:?}");

        // eval and calibrate pair gold sentences with the one before in
        // their document too.
        run(&[&"eval", &"--gold", &gold, &"--model", &out, &"--quiet"]).ok();
        // Without doc_id there is no sentence before: scored alone, with a warning.
        let no_ids = tmp.path().join("no-ids.jsonl");
        fs::write(
            &no_ids,
            "{\"text\": \"We condemn the attack.\", \"label\": \"condemnation\"}\n",
        )
        .unwrap();
        let ran = run(&[&"eval", &"--gold", &no_ids, &"--model", &out]).ok();
        assert!(ran.stderr.contains("no doc_id"), "{}", ran.stderr);
        run(&[&"calibrate", &"--dev", &gold, &"--model", &out, &"--quiet"]).ok();
        let config: Value = serde_json::from_str(&read_text(&out.join("config.json"))).unwrap();
        assert_eq!(config["stance_context_tokens"], 8, "calibrate keeps it");
    }

    #[test]
    fn distils_from_teacher_models_and_logs_them() {
        let tmp = tempfile::tempdir().unwrap();
        let base = tiny_base(tmp.path());
        let teacher = tiny_model(tmp.path());
        let other = tiny_model_named(tmp.path(), "other-teacher");
        let out = tmp.path().join("student");
        let teachers = format!("{},{}", teacher.display(), other.display());
        let ran = train_on_fixture(
            &base,
            &out,
            &[
                &"--epochs",
                &"1",
                &"--teacher",
                &teachers,
                &"--teacher-weight",
                &"0.7",
            ],
        )
        .ok();
        assert!(ran.stderr.contains("teachers (2) agree"), "{}", ran.stderr);
        let log: Value = serde_json::from_str(&read_text(&out.join("training.json"))).unwrap();
        assert_eq!(log["teacher_weight"], 0.7);
        let teachers = log["teachers"].as_array().unwrap();
        assert_eq!(teachers.len(), 2);
        assert_eq!(
            teachers[0]["sha256"],
            sha256_hex(&teacher.join("model.safetensors"))
        );

        // A teacher that is not a classifier is an error naming it.
        let ran = train_on_fixture(&base, &out, &[&"--teacher", &base]).exits(2);
        assert!(ran.stderr.contains("tiny-base"), "{}", ran.stderr);
    }

    #[test]
    fn a_bare_encoder_is_not_a_classifier() {
        let tmp = tempfile::tempdir().unwrap();
        let base = tiny_base(tmp.path());
        let out = tmp.path().join("out.parquet");
        label_to(&base, &[&fixture("news-page.txt")], &out, &[])
            .exits(2)
            .stderr_has(&["id2label", "stance train"]);
    }
}

// ---------------------------------------------------------------------------
// shared: the shipped model against a hand-labelled example
// ---------------------------------------------------------------------------

mod shared {
    use super::*;

    /// Drops leading bullet markers and collapses whitespace (incl. U+00A0).
    fn normalise(text: &str) -> String {
        let text =
            text.trim_start_matches(|c: char| c.is_whitespace() || "•△▲▶►○●◦▪■□·‣-–—*".contains(c));
        text.split(|c: char| c.is_whitespace() || c == '\u{a0}')
            .filter(|w| !w.is_empty())
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn normalise_strips_bullets_and_collapses_whitespace() {
        assert_eq!(
            normalise("•  The\u{a0}Ministers \t met."),
            "The Ministers met."
        );
        assert_eq!(normalise("△ Talks"), "Talks");
    }

    #[test]
    fn shipped_model_agrees_with_the_trilateral_gold() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let examples = root.join("../shared/examples");
        let text = examples.join("trilateral-dtt-2024.txt");
        let gold = examples.join("trilateral-dtt-2024.gold.jsonl");
        let model = root.join("models").join("stance-minilm-l6");
        let missing: Vec<String> = [
            text.clone(),
            gold.clone(),
            model.join("model.safetensors"),
            model.join("config.json"),
            model.join("tokenizer.json"),
        ]
        .into_iter()
        .filter(|p| !p.is_file())
        .map(|p| p.display().to_string())
        .collect();
        if !missing.is_empty() {
            eprintln!("skipping: missing {}", missing.join(", "));
            return;
        }
        let ran = run(&[
            &"label",
            &text,
            &"-o",
            &"-",
            &"--format",
            &"jsonl",
            &"--model",
            &model,
            &"--quiet",
        ])
        .ok();
        let rows = jsonl_rows(&ran.stdout);
        let mut predicted: BTreeMap<String, String> = BTreeMap::new();
        for r in &rows {
            predicted
                .entry(normalise(&r.text))
                .or_insert_with(|| r.label.clone());
        }
        let (mut found, mut agree, mut total) = (0usize, 0usize, 0usize);
        for line in read_text(&gold).lines().filter(|l| !l.trim().is_empty()) {
            let g: Value = serde_json::from_str(line).expect("gold JSON");
            total += 1;
            let key = normalise(g["text"].as_str().expect("gold text"));
            if let Some(label) = predicted.get(&key) {
                found += 1;
                agree += usize::from(label == g["label"].as_str().expect("gold label"));
            }
        }
        let agreement = agree as f64 / found.max(1) as f64;
        eprintln!(
            "shipped model on trilateral-dtt-2024: {agree}/{found} matched sentences agree ({:.1}%); {found}/{total} gold sentences found",
            100.0 * agreement
        );
        assert!(
            found * 2 >= total,
            "only {found} of {total} gold sentences were found in the output"
        );
        assert!(agreement >= 0.80, "agreement {agreement:.3} is below 0.80");
    }
}
