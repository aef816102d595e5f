import { render } from "preact";
import { App } from "./App";
import { keepJoinToken } from "./pages/Join";
import "./style.css";

// Before the sign-in check can redirect: an invitation's token lives in
// the address's fragment, which the sign-in round trip would lose.
keepJoinToken();
render(<App />, document.getElementById("app")!);
