package ingest

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestCleanXMP(t *testing.T) {
	const head = `<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">`
	const tail = `</rdf:RDF></x:xmpmeta>`
	tests := []struct {
		name      string
		in        string
		gone      []string // must not survive
		kept      []string // must survive
		wellBroke bool     // input is not well-formed to begin with
	}{
		{
			name: "attributes",
			in:   `<rdf:Description rdf:about="" xmlns:exif="e" xmlns:tiff="t" tiff:Orientation="6" exif:GPSLatitude="48,51.504N" exif:GPSLatitudeRef='N' exif:GPSLongitude = "2,17.67E"/>`,
			gone: []string{"GPSLatitude", "48,51", "GPSLongitude", "2,17"},
			kept: []string{`tiff:Orientation="6"`},
		},
		{
			name: "elements",
			in:   `<rdf:Description xmlns:exif="e" xmlns:dc="d"><exif:GPSLatitude>48,51.504N</exif:GPSLatitude><exif:GPSLatitudeRef>N</exif:GPSLatitudeRef><dc:title>Paris trip</dc:title><exif:GPSAltitude/></rdf:Description>`,
			gone: []string{"GPSLatitude", "48,51", "GPSAltitude"},
			kept: []string{"<dc:title>Paris trip</dc:title>"},
		},
		{
			name: "structure",
			in: `<rdf:Description xmlns:Iptc4xmpExt="i" xmlns:exif="e"><Iptc4xmpExt:LocationShown><rdf:Bag><rdf:li rdf:parseType="Resource">` +
				`<Iptc4xmpExt:City>Paris</Iptc4xmpExt:City><exif:GPSLatitude>48,51.504N</exif:GPSLatitude></rdf:li></rdf:Bag></Iptc4xmpExt:LocationShown><exif:Flash>16</exif:Flash></rdf:Description>`,
			gone: []string{"LocationShown", "Paris", "48,51"},
			kept: []string{"<exif:Flash>16</exif:Flash>"},
		},
		{
			name: "place names",
			in:   `<rdf:Description xmlns:photoshop="p" photoshop:City="Paris" photoshop:Country="France" photoshop:Headline="Sports day"/>`,
			gone: []string{"Paris", "France"},
			kept: []string{`photoshop:Headline="Sports day"`},
		},
		{
			name: "nested same name",
			in:   `<rdf:Description xmlns:a="a"><a:Location><a:Location>x</a:Location>Paris</a:Location><a:Other>1</a:Other></rdf:Description>`,
			gone: []string{"Paris", "Location"},
			kept: []string{"<a:Other>1</a:Other>"},
		},
		{
			name: "angle bracket in a value",
			in:   `<rdf:Description xmlns:exif="e" xmlns:dc="d" dc:x="a>b" exif:GPSLatitude="48,51.504N"/>`,
			gone: []string{"48,51"},
			kept: []string{`dc:x="a>b"`},
		},
		{
			name:      "unterminated element blanks to the end",
			in:        `<rdf:Description xmlns:exif="e"><exif:GPSLatitude>48,51.504N <exif:Flash>16</exif:Flash>`,
			gone:      []string{"48,51", "Flash"},
			wellBroke: true,
		},
		{
			name:      "unterminated attribute",
			in:        `<rdf:Description xmlns:exif="e" exif:GPSLatitude="48,51.504N`,
			gone:      []string{"48,51"},
			wellBroke: true,
		},
		{
			name: "comments and processing instructions are skipped",
			in:   `<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?><!-- <exif:GPSLatitude> --><rdf:Description xmlns:exif="e" exif:GPSLongitude="2,17.67E"/>`,
			gone: []string{"2,17"},
			kept: []string{"<?xpacket", "<!-- <exif:GPSLatitude> -->"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := head + tt.in + tail
			b := []byte(in)
			cleanXMP(b)
			if len(b) != len(in) {
				t.Fatal("length changed")
			}
			for _, s := range tt.gone {
				if bytes.Contains(b, []byte(s)) {
					t.Errorf("%q survived:\n%s", s, b)
				}
			}
			for _, s := range tt.kept {
				if !bytes.Contains(b, []byte(s)) {
					t.Errorf("%q lost:\n%s", s, b)
				}
			}
			if !tt.wellBroke {
				if err := wellFormed(in); err != nil {
					t.Fatalf("test input not well-formed: %v", err)
				}
				if err := wellFormed(string(b)); err != nil {
					t.Errorf("output not well-formed: %v\n%s", err, b)
				}
			}
			again := bytes.Clone(b)
			cleanXMP(again)
			if !bytes.Equal(again, b) {
				t.Error("second clean changed the packet")
			}
		})
	}
}

func wellFormed(s string) error {
	d := xml.NewDecoder(strings.NewReader(s))
	for {
		_, err := d.Token()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

func TestCleanIPTC(t *testing.T) {
	ds := func(rec, n byte, v string) []byte {
		return append([]byte{0x1C, rec, n, 0, byte(len(v))}, v...)
	}
	var in []byte
	in = append(in, ds(2, 0, "\x00\x04")...)
	in = append(in, ds(2, 90, "Paris")...)
	in = append(in, ds(2, 5, "Sports day")...)
	in = append(in, ds(2, 101, "France")...)
	in = append(in, 0) // padding
	b := bytes.Clone(in)
	cleanIPTC(b)
	want := append(append(ds(2, 0, "\x00\x04"), ds(2, 5, "Sports day")...), make([]byte, 10+11+1)...)
	if !bytes.Equal(b, want) {
		t.Fatalf("got %q\nwant %q", b, want)
	}
	again := bytes.Clone(b)
	cleanIPTC(again)
	if !bytes.Equal(again, b) {
		t.Fatal("second clean changed the block")
	}
}
