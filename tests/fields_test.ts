import { assert, test } from "./_harness.ts";
import {
  chooseBoundary,
  encodeMultipartFormdata,
  encodeUrlencoded,
  type Fields,
  formatMultipartHeaderParam,
  guessMimeType,
  RequestField,
} from "../src/fields.ts";

const encoder = new TextEncoder();
const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

// ---------------------------------------------------------------------------------------
// formatMultipartHeaderParam

test('formatMultipartHeaderParam: WHATWG escaping of \\n, \\r and " only', () => {
  assert.equal(formatMultipartHeaderParam("name", "value"), 'name="value"');
  assert.equal(
    formatMultipartHeaderParam("filename", 'a"b\nc\rd.txt'),
    'filename="a%22b%0Ac%0Dd.txt"',
  );
  // Non-ASCII stays raw (sent as UTF-8); other controls, backslash and % stay as they are.
  assert.equal(formatMultipartHeaderParam("filename", "näive ☃.txt"), 'filename="näive ☃.txt"');
  assert.equal(formatMultipartHeaderParam("n", "a\\b\t%22"), 'n="a\\b\t%22"');
  assert.equal(formatMultipartHeaderParam("n", ""), 'n=""');
});

test("formatMultipartHeaderParam: non-string arguments throw TypeError", () => {
  assert.throws(() => formatMultipartHeaderParam("n", 1 as unknown as string), {
    name: "TypeError",
    message: 'Header parameter "n" value must be a string: 1',
  });
  assert.throws(() => formatMultipartHeaderParam(null as unknown as string, "v"), {
    name: "TypeError",
    message: "Header parameter name must be a string: null",
  });
});

// ---------------------------------------------------------------------------------------
// guessMimeType

test("guessMimeType: the built-in table, any case", () => {
  const table: Record<string, string> = {
    txt: "text/plain",
    html: "text/html",
    css: "text/css",
    js: "text/javascript",
    mjs: "text/javascript",
    json: "application/json",
    xml: "application/xml",
    csv: "text/csv",
    pdf: "application/pdf",
    png: "image/png",
    jpg: "image/jpeg",
    jpeg: "image/jpeg",
    gif: "image/gif",
    webp: "image/webp",
    svg: "image/svg+xml",
    ico: "image/vnd.microsoft.icon",
    zip: "application/zip",
    gz: "application/gzip",
    tar: "application/x-tar",
    mp3: "audio/mpeg",
    mp4: "video/mp4",
    wav: "audio/wav",
    webm: "video/webm",
    wasm: "application/wasm",
    md: "text/markdown",
    yaml: "application/yaml",
    yml: "application/yaml",
  };
  for (const [ext, type] of Object.entries(table)) {
    assert.equal(guessMimeType(`file.${ext}`), type, ext);
    assert.equal(guessMimeType(`FILE.${ext.toUpperCase()}`), type, ext.toUpperCase());
  }
});

test("guessMimeType: unknown or missing extensions give application/octet-stream", () => {
  const fallback = "application/octet-stream";
  assert.equal(guessMimeType("file.unknown"), fallback);
  assert.equal(guessMimeType("README"), fallback);
  assert.equal(guessMimeType(""), fallback);
  assert.equal(guessMimeType("file."), fallback);
  assert.equal(guessMimeType(".bashrc"), fallback);
  assert.equal(guessMimeType("dir.d/README"), fallback);
  assert.equal(guessMimeType("C:\\dir.txt\\file"), fallback);
  assert.equal(guessMimeType("a/b/c.PNG"), "image/png");
  assert.equal(guessMimeType(".hidden.json"), "application/json");
  assert.equal(guessMimeType("archive.tar.gz"), "application/gzip");
  assert.equal(guessMimeType("x.constructor"), fallback);
  assert.equal(guessMimeType("x.__proto__"), fallback);
  assert.throws(() => guessMimeType(5 as unknown as string), {
    name: "TypeError",
    message: "Filename must be a string: 5",
  });
});

// ---------------------------------------------------------------------------------------
// RequestField

test("RequestField: constructor stores its arguments and copies the headers", () => {
  const headers = { "X-A": "1" };
  const field = new RequestField("n", "v", "f.txt", headers);
  assert.equal(field.name, "n");
  assert.equal(field.data, "v");
  assert.equal(field.filename, "f.txt");
  field.headers["X-B"] = "2";
  assert.deepEqual(field.headers, { "X-A": "1", "X-B": "2" });
  assert.deepEqual(headers, { "X-A": "1" });
  const plain = new RequestField("n", 5);
  assert.equal(plain.filename, null);
  assert.deepEqual(plain.headers, {});
});

test("RequestField: constructor checks its argument types", () => {
  assert.throws(() => new RequestField(1 as unknown as string, "v"), {
    name: "TypeError",
    message: "Field name must be a string: 1",
  });
  assert.throws(() => new RequestField("n", null as unknown as string), {
    name: "TypeError",
    message: 'Field "n" data must be a string, number or Uint8Array: null',
  });
  assert.throws(() => new RequestField("n", new ArrayBuffer(1) as unknown as string), {
    name: "TypeError",
    message: 'Field "n" data must be a string, number or Uint8Array: an object (ArrayBuffer)',
  });
  assert.throws(() => new RequestField("n", "v", 3 as unknown as string), {
    name: "TypeError",
    message: 'Field "n" filename must be a string: 3',
  });
  assert.throws(() => new RequestField("n", "v", null, [] as unknown as Record<string, string>), {
    name: "TypeError",
    message: 'Field "n" headers must be an object: an array',
  });
});

test("RequestField.fromTuples: a plain value gets no Content-Type", () => {
  const field = RequestField.fromTuples("somename", "data");
  assert.equal(field.filename, null);
  assert.equal(field.renderHeaders(), 'Content-Disposition: form-data; name="somename"\r\n\r\n');
  const num = RequestField.fromTuples("n", 42);
  assert.equal(num.data, 42);
});

test("RequestField.fromTuples: [filename, data] guesses the type", () => {
  const field = RequestField.fromTuples("file", ["photo.JPG", new Uint8Array([1, 2])]);
  assert.equal(field.filename, "photo.JPG");
  assert.equal(
    field.renderHeaders(),
    'Content-Disposition: form-data; name="file"; filename="photo.JPG"\r\n' +
      "Content-Type: image/jpeg\r\n\r\n",
  );
  const unknown = RequestField.fromTuples("file", ["blob", "x"]);
  assert.equal(unknown.headers["Content-Type"], "application/octet-stream");
});

test("RequestField.fromTuples: [filename, data, mimeType] uses the given type", () => {
  const field = RequestField.fromTuples("file", ["a.txt", "x", "application/x-custom"]);
  assert.equal(field.headers["Content-Type"], "application/x-custom");
  // An empty type renders no Content-Type line.
  const empty = RequestField.fromTuples("file", ["a.txt", "x", ""]);
  assert.equal(
    empty.renderHeaders(),
    'Content-Disposition: form-data; name="file"; filename="a.txt"\r\n\r\n',
  );
});

test("RequestField.fromTuples: a RequestField is returned as it is", () => {
  const ready = new RequestField("own-name", "v");
  assert.equal(RequestField.fromTuples("other", ready), ready);
});

test("RequestField.fromTuples: bad values throw TypeError naming the field", () => {
  const shapes =
    "a string, a number, [filename, data], [filename, data, mimeType] or a RequestField";
  assert.throws(() => RequestField.fromTuples("f", ["only"] as unknown as [string, string]), {
    name: "TypeError",
    message: `Field "f" value must be ${shapes}: an array`,
  });
  assert.throws(() => RequestField.fromTuples("f", true as unknown as string), {
    name: "TypeError",
    message: `Field "f" value must be ${shapes}: true`,
  });
  assert.throws(() => RequestField.fromTuples("f", { a: 1 } as unknown as string), {
    name: "TypeError",
    message: `Field "f" value must be ${shapes}: an object`,
  });
  assert.throws(() => RequestField.fromTuples("f", [1, "x"] as unknown as [string, string]), {
    name: "TypeError",
    message: 'Field "f" filename must be a string: 1',
  });
  assert.throws(
    () => RequestField.fromTuples("f", ["a.txt", "x", 5] as unknown as [string, string, string]),
    { name: "TypeError", message: 'Field "f" MIME type must be a string: 5' },
  );
  assert.throws(() => RequestField.fromTuples("f", ["a.txt", {}] as unknown as [string, string]), {
    name: "TypeError",
    message: 'Field "f" data must be a string, number or Uint8Array: an object',
  });
});

test("RequestField.makeMultipart: sets disposition, type and location", () => {
  const field = new RequestField("somename", "data", 'we"ird\nname.txt');
  field.makeMultipart({
    contentDisposition: "attachment",
    contentType: "image/jpeg",
    contentLocation: "/test",
  });
  assert.deepEqual(field.headers, {
    "Content-Disposition": 'attachment; name="somename"; filename="we%22ird%0Aname.txt"',
    "Content-Type": "image/jpeg",
    "Content-Location": "/test",
  });
  // Called again, options left out clear the type and location.
  field.makeMultipart();
  assert.deepEqual(field.headers, {
    "Content-Disposition": 'form-data; name="somename"; filename="we%22ird%0Aname.txt"',
    "Content-Type": null,
    "Content-Location": null,
  });
  assert.throws(() => field.makeMultipart({ contentType: 5 as unknown as string }), {
    name: "TypeError",
    message: "makeMultipart option contentType must be a string: 5",
  });
});

test("RequestField.renderHeaders: sorted headers first, empty values skipped", () => {
  const field = new RequestField("n", "v", null, {
    "X-First": "1",
    "Content-Location": "/loc",
    "X-Empty": "",
    "Content-Type": "text/plain",
    "Content-Disposition": "form-data",
    "X-Last": "2",
  });
  assert.equal(
    field.renderHeaders(),
    "Content-Disposition: form-data\r\n" +
      "Content-Type: text/plain\r\n" +
      "Content-Location: /loc\r\n" +
      "X-First: 1\r\n" +
      "X-Last: 2\r\n" +
      "\r\n",
  );
  field.headers["X-Null"] = null;
  field.headers["Content-Type"] = null;
  assert.ok(!field.renderHeaders().includes("X-Null"));
  assert.ok(!field.renderHeaders().includes("Content-Type"));
  assert.equal(new RequestField("n", "v").renderHeaders(), "\r\n");
});

// ---------------------------------------------------------------------------------------
// chooseBoundary

test("chooseBoundary: 32 random hex characters", () => {
  const seen = new Set<string>();
  for (let i = 0; i < 50; i++) {
    const boundary = chooseBoundary();
    assert.match(boundary, /^[0-9a-f]{32}$/);
    seen.add(boundary);
  }
  assert.equal(seen.size, 50);
});

// ---------------------------------------------------------------------------------------
// encodeMultipartFormdata

test("encodeMultipartFormdata: the exact body of text, number and file fields", () => {
  const { body, contentType } = encodeMultipartFormdata(
    [
      ["k", "v"],
      ["k2", 123],
      ["f", ["a.txt", "file text"]],
      ["b", ["b.bin", new Uint8Array([0, 1, 255]), "application/x-raw"]],
    ],
    "BOUNDARY",
  );
  assert.equal(contentType, "multipart/form-data; boundary=BOUNDARY");
  const expected = [
    "--BOUNDARY\r\n",
    'Content-Disposition: form-data; name="k"\r\n\r\n',
    "v\r\n",
    "--BOUNDARY\r\n",
    'Content-Disposition: form-data; name="k2"\r\n\r\n',
    "123\r\n",
    "--BOUNDARY\r\n",
    'Content-Disposition: form-data; name="f"; filename="a.txt"\r\n',
    "Content-Type: text/plain\r\n\r\n",
    "file text\r\n",
    "--BOUNDARY\r\n",
    'Content-Disposition: form-data; name="b"; filename="b.bin"\r\n',
    "Content-Type: application/x-raw\r\n\r\n",
  ].join("");
  const head = encoder.encode(expected);
  const tail = encoder.encode("\r\n--BOUNDARY--\r\n");
  const want = new Uint8Array([...head, 0, 1, 255, ...tail]);
  assert.deepEqual(body, want);
});

test("encodeMultipartFormdata: a record, repeated names and RequestFields keep their order", () => {
  const fromRecord = encodeMultipartFormdata({ a: "1", b: "2" }, "B");
  assert.equal(
    decode(fromRecord.body),
    '--B\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n' +
      '--B\r\nContent-Disposition: form-data; name="b"\r\n\r\n2\r\n--B--\r\n',
  );
  const custom = new RequestField("custom", "c", null, { "X-Part": "yes" });
  custom.makeMultipart({ contentType: "text/x-c" });
  const mixed = encodeMultipartFormdata([["t", "1"], custom, ["t", "2"]], "B");
  assert.equal(
    decode(mixed.body),
    '--B\r\nContent-Disposition: form-data; name="t"\r\n\r\n1\r\n' +
      '--B\r\nContent-Disposition: form-data; name="custom"\r\nContent-Type: text/x-c\r\n' +
      "X-Part: yes\r\n\r\nc\r\n" +
      '--B\r\nContent-Disposition: form-data; name="t"\r\n\r\n2\r\n--B--\r\n',
  );
  const onlyFields = encodeMultipartFormdata([custom], "B");
  assert.ok(
    decode(onlyFields.body).startsWith('--B\r\nContent-Disposition: form-data; name="custom"'),
  );
  const fromMap = encodeMultipartFormdata(new Map([["m", "1"]]), "B");
  assert.ok(decode(fromMap.body).includes('name="m"\r\n\r\n1\r\n'));
  // A RequestField given as a record value is used as it is.
  const asValue = encodeMultipartFormdata({ key: custom }, "B");
  assert.deepEqual(asValue.body, onlyFields.body);
});

test("encodeMultipartFormdata: no fields gives just the closing boundary", () => {
  const { body } = encodeMultipartFormdata([], "B");
  assert.equal(decode(body), "--B--\r\n");
  assert.equal(decode(encodeMultipartFormdata({}, "B").body), "--B--\r\n");
});

test("encodeMultipartFormdata: non-ASCII names, filenames and data are UTF-8", () => {
  const { body } = encodeMultipartFormdata(
    [["näme", "välue \u{1F600}"], ["f", ['☃ "q".txt', "ü"]]],
    "B",
  );
  const want = '--B\r\nContent-Disposition: form-data; name="näme"\r\n\r\nvälue \u{1F600}\r\n' +
    '--B\r\nContent-Disposition: form-data; name="f"; filename="☃ %22q%22.txt"\r\n' +
    "Content-Type: text/plain\r\n\r\nü\r\n--B--\r\n";
  assert.deepEqual(body, encoder.encode(want));
  assert.equal(body.length, encoder.encode(want).length);
});

test("encodeMultipartFormdata: lone surrogates are sized exactly as TextEncoder writes them", () => {
  const text = "a\ud800b\udc00c\ud83d";
  const { body } = encodeMultipartFormdata([["x", text]], "B");
  const want = encoder.encode(
    `--B\r\nContent-Disposition: form-data; name="x"\r\n\r\n${text}\r\n--B--\r\n`,
  );
  assert.deepEqual(body, want);
});

test("encodeMultipartFormdata: large binary data is copied once into one buffer", () => {
  const big = new Uint8Array(1 << 20).map((_, i) => i & 0xff);
  const { body } = encodeMultipartFormdata([["big", ["big.bin", big]]], "B");
  const headLength = encoder.encode(
    '--B\r\nContent-Disposition: form-data; name="big"; filename="big.bin"\r\n' +
      "Content-Type: application/octet-stream\r\n\r\n",
  ).length;
  assert.equal(body.length, headLength + big.length + "\r\n--B--\r\n".length);
  assert.equal(body.buffer.byteLength, body.length);
  assert.deepEqual(body.subarray(headLength, headLength + big.length), big);
});

test("encodeMultipartFormdata: the default boundary is random, 32 hex characters", () => {
  const first = encodeMultipartFormdata({ a: "1" });
  const second = encodeMultipartFormdata({ a: "1" });
  const match = /^multipart\/form-data; boundary=([0-9a-f]{32})$/.exec(first.contentType);
  assert.ok(match, first.contentType);
  assert.ok(decode(first.body).startsWith(`--${match[1]}\r\n`));
  assert.ok(decode(first.body).endsWith(`--${match[1]}--\r\n`));
  assert.notEqual(first.contentType, second.contentType);
});

test("encodeMultipartFormdata: boundaries are checked, and quoted when they need it", () => {
  assert.equal(
    encodeMultipartFormdata({}, "a'b+c_d-e.f").contentType,
    "multipart/form-data; boundary=a'b+c_d-e.f",
  );
  assert.equal(
    encodeMultipartFormdata({}, "with space=x").contentType,
    'multipart/form-data; boundary="with space=x"',
  );
  assert.equal(encodeMultipartFormdata({}, "x".repeat(70)).body.length, 70 + 6);
  for (const bad of ["", "x".repeat(71), "trailing ", "a\r\nb", 'q"uote', "ü"]) {
    assert.throws(() => encodeMultipartFormdata({}, bad), {
      name: "RangeError",
      message: "Multipart boundary must be 1-70 characters of 0-9A-Za-z'()+_,-./:=? or space, " +
        `not ending with a space: ${JSON.stringify(bad)}`,
    });
  }
  assert.throws(() => encodeMultipartFormdata({}, 5 as unknown as string), {
    name: "TypeError",
    message: "Multipart boundary must be a string: 5",
  });
});

test("encodeMultipartFormdata: bad fields throw TypeError", () => {
  assert.throws(() => encodeMultipartFormdata("a=b" as unknown as Fields, "B"), {
    name: "TypeError",
    message: 'Fields must be an object or an array of pairs: "a=b"',
  });
  assert.throws(() => encodeMultipartFormdata([["a"]] as unknown as Fields, "B"), {
    name: "TypeError",
    message: "Fields entries must be [name, value] pairs or RequestFields: an array",
  });
  assert.throws(() => encodeMultipartFormdata([[1, "v"]] as unknown as Fields, "B"), {
    name: "TypeError",
  });
  assert.throws(() => encodeMultipartFormdata({ a: null } as unknown as Fields, "B"), {
    name: "TypeError",
    message: 'Field "a" value must be a string, a number, [filename, data], ' +
      "[filename, data, mimeType] or a RequestField: null",
  });
});

// ---------------------------------------------------------------------------------------
// encodeUrlencoded

test("encodeUrlencoded: like URLSearchParams, repeated names kept in order", () => {
  assert.equal(encodeUrlencoded({ q: "a b&c=d", n: 1, e: "" }), "q=a+b%26c%3Dd&n=1&e=");
  assert.equal(encodeUrlencoded([["k", "a"], ["j", "x"], ["k", "b"]]), "k=a&j=x&k=b");
  assert.equal(encodeUrlencoded({ "ü ñ": "€/?#+" }), "%C3%BC+%C3%B1=%E2%82%AC%2F%3F%23%2B");
  assert.equal(
    encodeUrlencoded({ "*-._~": "!'()" }),
    new URLSearchParams({ "*-._~": "!'()" }).toString(),
  );
  assert.equal(encodeUrlencoded({}), "");
  assert.equal(encodeUrlencoded([]), "");
  assert.equal(encodeUrlencoded({ f: 1.5, z: 0, neg: -2 }), "f=1.5&z=0&neg=-2");
});

test("encodeUrlencoded: files need multipart", () => {
  assert.throws(() => encodeUrlencoded({ f: ["a.txt", "data"] }), {
    name: "TypeError",
    message: 'Field "f" is a file; files need multipart/form-data encoding (encodeMultipart: true)',
  });
  assert.throws(() => encodeUrlencoded({ f: ["a.txt", "data", "text/plain"] }), {
    name: "TypeError",
  });
  assert.throws(() => encodeUrlencoded({ f: new RequestField("g", "v") }), {
    name: "TypeError",
    message: 'Field "f" is a file; files need multipart/form-data encoding (encodeMultipart: true)',
  });
  assert.throws(
    () => encodeUrlencoded([new RequestField("g", "v")] as unknown as Fields),
    {
      name: "TypeError",
      message: 'Field "g" is a RequestField; files need multipart/form-data encoding ' +
        "(encodeMultipart: true)",
    },
  );
  assert.throws(() => encodeUrlencoded({ b: true } as unknown as Fields), {
    name: "TypeError",
    message: 'Field "b" value must be a string or a number: true',
  });
  assert.throws(() => encodeUrlencoded(null as unknown as Fields), {
    name: "TypeError",
    message: "Fields must be an object or an array of pairs: null",
  });
});
