"""The _uscan._tcp record: instance name and TXT keys as eSCL clients read them."""

from gateway.escl import namespaces as ns
from gateway.escl.dnssd import MAX_TXT_BYTES, fit_txt, instance_name, service_record
from gateway.model import ColorMode
from tests.escl.samples import UUID, capabilities, scanner, source, with_caps

ADMIN = "http://pi.local:8765/"
ICON = "http://pi.local:8765/eSCL/icon.png"


def txt(s=None, path="/eSCL", **kwargs):
    return dict(service_record(s or scanner(), 8765, path, **kwargs).txt)


def test_the_record_is_a_uscan_service_on_the_http_port_under_the_scanners_name():
    record = service_record(scanner(), 8765, "/eSCL")
    assert (record.type, record.port, record.name) == ("_uscan._tcp", 8765, "Noname frontend-tester on pi")


def test_txtvers_comes_first():
    assert service_record(scanner(), 8765, "/eSCL").txt[0] == ("txtvers", "1")


def test_the_txt_keys_describe_the_scanner():
    assert txt(admin_url=ADMIN, icon_url=ICON) == {
        "txtvers": "1", "vers": ns.VERSION, "rs": "eSCL", "ty": "Noname frontend-tester", "note": "Office",
        "pdl": "image/jpeg,image/png,application/pdf", "cs": "color,grayscale,binary", "is": "platen,adf",
        "duplex": "F", "uuid": UUID, "representation": ICON, "adminurl": ADMIN}


def test_rs_is_the_resource_path_without_slashes():
    assert txt(path="/escl/" + UUID + "/")["rs"] == "escl/" + UUID


def test_the_uuid_is_plain_lowercase():
    assert txt(scanner(uuid=UUID.upper()))["uuid"] == UUID


def test_urls_are_left_out_when_unknown():
    assert "adminurl" not in txt() and "representation" not in txt()


def test_a_duplex_feeder_says_duplex():
    assert txt(scanner(capabilities(duplex=True)))["duplex"] == "T"


def test_input_sources_name_the_platen_and_the_feeder_that_exist():
    assert txt(scanner(capabilities(feeder=False)))["is"] == "platen"
    assert txt(scanner(capabilities(platen=False)))["is"] == "adf"


def test_colour_spaces_are_those_any_source_offers():
    grey = with_caps(scanner(), platen=source(colors=(ColorMode.GRAYSCALE_8,)), adf_front=None)
    assert txt(grey)["cs"] == "grayscale"


def test_pdl_lists_only_the_formats_the_core_makes():
    assert txt(scanner(capabilities(formats=("png",))))["pdl"] == "image/png"


def test_an_instance_name_is_cut_to_63_bytes_on_a_character_boundary():
    name = instance_name("Scanner " + "\u00e9" * 40)
    assert len(name.encode()) <= 63 and name.startswith("Scanner \u00e9")
    assert name.encode().decode() == name


def test_an_empty_instance_name_becomes_scanner():
    assert instance_name("  ") == "Scanner"


def test_a_txt_string_stays_within_255_bytes_and_a_list_is_cut_at_a_whole_entry():
    value = ",".join(f"image/type{i}" for i in range(40))
    data = fit_txt("pdl", value)
    assert len(data) <= MAX_TXT_BYTES
    assert data.startswith(b"pdl=image/type0,") and not data.endswith(b",")
    assert data.decode().split("=", 1)[1].split(",")[-1] in value.split(",")


def test_a_long_note_is_cut_on_a_character_boundary():
    data = fit_txt("note", "\u00fc" * 200)
    assert len(data) <= MAX_TXT_BYTES
    data.decode("utf-8")


def test_txt_bytes_are_key_equals_value_in_order():
    record = service_record(scanner(), 8765, "/eSCL")
    assert record.txt_bytes()[:3] == [b"txtvers=1", b"vers=" + ns.VERSION.encode(), b"rs=eSCL"]
