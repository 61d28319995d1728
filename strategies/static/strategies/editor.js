/* The strategy editor of the admin change page: Blockly blocks <-> the DSL's JSON AST.
 *
 * The JSON textarea of the form stays the source of truth that is submitted; the blocks are a
 * view of it. Blocks rewrite the JSON only when the designer changes a block, so a program that
 * was not touched is saved byte for byte. Numbers keep their source text ("2.0" stays a float).
 * Every node id of the AST is kept in its block's `data`, so errors reported by the server
 * (node id and JSON pointer) land on the block they concern.
 */
(function () {
  "use strict";

  const configElement = document.getElementById("dsl-editor-config");
  if (!configElement || typeof Blockly === "undefined") return;
  const config = JSON.parse(configElement.textContent);
  const NUM = "__dslnum__";

  // Blockly 12's own serializers and flyouts still call Workspace.getAllVariables, which it
  // deprecated in v12 (upstream issue #9083), so every page logged the warning. Answer them
  // through the v12 API, which that method only wraps.
  Blockly.Workspace.prototype.getAllVariables = function () {
    return this.getVariableMap().getAllVariables();
  };

  // -- JSON with exact numbers --------------------------------------------------------------
  function parseExact(text) {
    return JSON.parse(text, function (key, value, context) {
      if (typeof value === "number") {
        const source = context && typeof context.source === "string" ? context.source : String(value);
        return { [NUM]: source };
      }
      return value;
    });
  }
  function stringifyExact(value) {
    return JSON.stringify(value, null, 2).replace(
      /\{\s*"__dslnum__":\s*"([^"]+)"\s*\}/g,
      "$1"
    );
  }
  function isNum(value) {
    return value !== null && typeof value === "object" && NUM in value;
  }
  // PostgreSQL's jsonb stores keys in its own order: compare programs whatever their key order.
  function sorted(value) {
    if (Array.isArray(value)) return value.map(sorted);
    if (value === null || typeof value !== "object") return value;
    const out = {};
    Object.keys(value).sort().forEach(function (k) { out[k] = sorted(value[k]); });
    return out;
  }
  function sameProgram(a, b) {
    return stringifyExact(sorted(a)) === stringifyExact(sorted(b));
  }
  function plain(value) {
    return JSON.parse(stringifyExact(value));
  }

  // -- block definitions --------------------------------------------------------------------
  const SECTIONS = ["rule", "pre", "post"];
  const SECTION_LABEL = { rule: "rule", pre: "pre rule", post: "post rule" };
  const STATEMENTS = {
    assign_points: ["rule", "default"],
    set_callback_data: ["rule", "default", "pre", "post"],
    return: ["rule", "default", "pre", "post"],
    set_data: ["pre"],
    veto: ["pre"],
    set_points: ["post"],
    set_case_name: ["post"],
  };
  const FIELD_PATHS = [
    "task.measurements_count",
    "user.measurements_count",
    "user.recent_measurements_count",
    "user.avg_time",
    "all.avg_time",
    "user.last_window_diff",
    "user.new_last_window_diff",
    "externalGameId",
    "externalTaskId",
    "externalUserId",
  ];
  // The parent's result exists only after the parent ran: DSL_EXTEND post rules (spec 4.4).
  const PARENT_PATHS = ["parent.points", "parent.case_name"];
  const COLOURS = { root: 0, rule: 20, cond: 210, expr: 160, stmt: 290, vars: 60 };
  const ALL_STMT = ["stmt_rule", "stmt_default", "stmt_pre", "stmt_post"];

  function numberValidator(text) {
    return /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$/.test(text) ? text : null;
  }
  function keyValidator(text) {
    return /^[A-Za-z0-9_]+$/.test(text) ? text : null;
  }

  Blockly.Blocks.dsl_program = {
    init: function () {
      this.setColour(COLOURS.root);
      this.appendDummyInput().appendField("strategy program");
      this.appendStatementInput("RULES").setCheck("rule_rule").appendField("rules (DSL_FULL)");
      this.appendStatementInput("DEFAULT").setCheck("stmt_default").appendField("default (DSL_FULL)");
      this.appendStatementInput("PRE").setCheck("rule_pre").appendField("pre rules (before the parent)");
      this.appendStatementInput("POST").setCheck("rule_post").appendField("post rules (after the parent)");
      this.appendStatementInput("VARS").setCheck("parent_var").appendField("parent variables");
      this.setDeletable(false);
      this.present = [];
      this.setTooltip("The whole program. DSL_FULL runs rules then default; DSL_EXTEND runs pre rules, the parent, then post rules.");
    },
    saveExtraState: function () {
      return { present: this.present || [] };
    },
    loadExtraState: function (state) {
      this.present = (state && state.present) || [];
    },
    mutationToDom: function () {
      const mutation = Blockly.utils.xml.createElement("mutation");
      mutation.setAttribute("present", (this.present || []).join(","));
      return mutation;
    },
    domToMutation: function (xml) {
      const present = xml.getAttribute("present");
      this.present = present ? present.split(",") : [];
    },
  };

  SECTIONS.forEach(function (section) {
    Blockly.Blocks["dsl_rule_" + section] = {
      init: function () {
        this.setColour(COLOURS.rule);
        this.appendValueInput("WHEN").setCheck("Condition").appendField(SECTION_LABEL[section] + ": when");
        this.appendStatementInput("THEN").setCheck("stmt_" + section).appendField("then");
        this.appendStatementInput("ELSE_IF").setCheck("elseif_" + section).appendField("else if…");
        this.appendStatementInput("ELSE").setCheck("stmt_" + section).appendField("else");
        this.setPreviousStatement(true, "rule_" + section);
        this.setNextStatement(true, "rule_" + section);
        this.setTooltip("When the condition holds, run 'then'; otherwise the first matching 'else if', otherwise 'else'.");
      },
    };
    Blockly.Blocks["dsl_elseif_" + section] = {
      init: function () {
        this.setColour(COLOURS.rule);
        this.appendValueInput("WHEN").setCheck("Condition").appendField("else if");
        this.appendStatementInput("THEN").setCheck("stmt_" + section).appendField("then");
        this.setPreviousStatement(true, "elseif_" + section);
        this.setNextStatement(true, "elseif_" + section);
      },
    };
  });

  function statementBlock(type, build, tooltip) {
    const checks = STATEMENTS[type].map(function (s) { return "stmt_" + s; });
    Blockly.Blocks["dsl_" + type] = {
      init: function () {
        this.setColour(COLOURS.stmt);
        build.call(this);
        this.setPreviousStatement(true, checks);
        this.setNextStatement(type !== "return", checks);
        this.setTooltip(tooltip + " (allowed in: " + STATEMENTS[type].join(", ") + ")");
      },
    };
  }
  statementBlock("assign_points", function () {
    this.appendValueInput("VALUE").setCheck("Expr").appendField("award points");
    this.appendDummyInput().appendField("as case").appendField(new Blockly.FieldTextInput("CaseName"), "CASE");
    this.setInputsInline(true);
  }, "Set the points and the case name, and stop");
  statementBlock("set_callback_data", function () {
    this.appendValueInput("VALUE").setCheck("Expr").appendField("callback data")
      .appendField(new Blockly.FieldTextInput("key"), "KEY").appendField("=");
    this.setInputsInline(true);
  }, "Return an extra key/value to the game server");
  statementBlock("return", function () {
    this.appendDummyInput().appendField("stop here");
  }, "Stop the current phase without changing anything");
  statementBlock("set_data", function () {
    this.appendValueInput("VALUE").setCheck("Expr").appendField("set data.")
      .appendField(new Blockly.FieldTextInput("key", keyValidator), "KEY").appendField("=");
    this.setInputsInline(true);
  }, "Rewrite a key of the event data handed to the parent");
  statementBlock("veto", function () {
    this.appendDummyInput().appendField("veto (0 points) as case")
      .appendField(new Blockly.FieldTextInput("Vetoed"), "CASE");
  }, "Refuse the event: 0 points, the parent is not called");
  statementBlock("set_points", function () {
    this.appendValueInput("VALUE").setCheck("Expr").appendField("set points to");
  }, "Replace the parent's points");
  statementBlock("set_case_name", function () {
    this.appendValueInput("VALUE").setCheck("Expr").appendField("set case name to");
  }, "Replace the parent's case name");

  Blockly.Blocks.dsl_raw_stmt = {
    init: function () {
      this.setColour(0);
      this.appendDummyInput().appendField("JSON statement").appendField(new Blockly.FieldTextInput("{}"), "JSON");
      this.setPreviousStatement(true, ALL_STMT);
      this.setNextStatement(true, ALL_STMT);
      this.setTooltip("A node the blocks cannot show; edit it in the raw JSON view.");
    },
  };

  Blockly.Blocks.dsl_parent_var = {
    init: function () {
      this.setColour(COLOURS.vars);
      this.appendDummyInput()
        .appendField(new Blockly.FieldTextInput("variable_basic_points"), "NAME")
        .appendField("=")
        .appendField(new Blockly.FieldTextInput("1"), "VALUE");
      this.setPreviousStatement(true, "parent_var");
      this.setNextStatement(true, "parent_var");
      this.setTooltip("Override a tunable variable of the parent built-in (a JSON scalar).");
    },
  };

  Blockly.Blocks.dsl_compare = {
    init: function () {
      this.setColour(COLOURS.cond);
      this.appendValueInput("LEFT").setCheck("Expr");
      this.appendValueInput("RIGHT").setCheck("Expr").appendField(new Blockly.FieldDropdown(
        ["<", "<=", "==", "!=", ">=", ">"].map(function (op) { return [op, op]; })), "OP");
      this.setInputsInline(true);
      this.setOutput(true, "Condition");
    },
  };
  ["and", "or"].forEach(function (kind) {
    Blockly.Blocks["dsl_" + kind] = {
      init: function () {
        this.setColour(COLOURS.cond);
        this.count = 0;
        const block = this;
        this.appendDummyInput("HEAD").appendField(kind === "and" ? "all of" : "any of")
          .appendField(new Blockly.FieldDropdown(
            [["2", "2"], ["3", "3"], ["4", "4"], ["5", "5"], ["6", "6"]],
            function (value) { block.updateShape_(Number(value)); return value; }), "N");
        this.setOutput(true, "Condition");
        this.updateShape_(2);
      },
      updateShape_: function (n) {
        for (let i = this.count; i < n; i++) this.appendValueInput("ARG" + i).setCheck("Condition");
        for (let i = this.count - 1; i >= n; i--) this.removeInput("ARG" + i);
        this.count = n;
      },
      saveExtraState: function () { return { count: this.count }; },
      loadExtraState: function (state) { this.updateShape_(state.count); },
      mutationToDom: function () {
        const mutation = Blockly.utils.xml.createElement("mutation");
        mutation.setAttribute("count", String(this.count));
        return mutation;
      },
      domToMutation: function (xml) { this.updateShape_(Number(xml.getAttribute("count")) || 2); },
    };
  });
  Blockly.Blocks.dsl_not = {
    init: function () {
      this.setColour(COLOURS.cond);
      this.appendValueInput("ARG").setCheck("Condition").appendField("not");
      this.setOutput(true, "Condition");
    },
  };

  function valueBlock(name, build, output) {
    Blockly.Blocks[name] = {
      init: function () {
        this.setColour(COLOURS.expr);
        build.call(this);
        this.setOutput(true, output || ["Expr", "Condition"]);
      },
    };
  }
  valueBlock("dsl_number", function () {
    this.appendDummyInput().appendField(new Blockly.FieldTextInput("0", numberValidator), "VALUE");
  });
  valueBlock("dsl_text", function () {
    this.appendDummyInput().appendField("“").appendField(new Blockly.FieldTextInput(""), "VALUE").appendField("”");
  });
  valueBlock("dsl_boolean", function () {
    this.appendDummyInput().appendField(new Blockly.FieldDropdown([["true", "true"], ["false", "false"]]), "VALUE");
  });
  valueBlock("dsl_null", function () {
    this.appendDummyInput().appendField("null");
  });
  valueBlock("dsl_field", function () {
    this.appendDummyInput().appendField(new Blockly.FieldDropdown(
      FIELD_PATHS.map(function (p) { return [p, p]; })), "PATH");
    this.setTooltip("A value computed before the run (analytics exclude the current event).");
  });
  valueBlock("dsl_parent_field", function () {
    this.appendDummyInput().appendField("parent's").appendField(new Blockly.FieldDropdown(
      PARENT_PATHS.map(function (p) { return [p.slice(7).replace("_", " "), p]; })), "PATH");
    this.setTooltip("The parent's result (post rules only): what it returned, before any set points or set case name.");
  });
  valueBlock("dsl_data", function () {
    this.appendDummyInput().appendField("data.")
      .appendField(new Blockly.FieldTextInput("key", keyValidator), "KEY");
    this.setTooltip("A key of the event's data (null when missing).");
  });
  valueBlock("dsl_field_raw", function () {
    this.appendDummyInput().appendField("field").appendField(new Blockly.FieldTextInput(""), "PATH");
  });
  valueBlock("dsl_arith", function () {
    this.appendValueInput("LEFT").setCheck("Expr");
    this.appendValueInput("RIGHT").setCheck("Expr").appendField(new Blockly.FieldDropdown(
      [["+", "+"], ["-", "-"], ["×", "*"], ["÷", "/"], ["min", "min"], ["max", "max"]]), "OP");
    this.setInputsInline(true);
  }, "Expr");
  valueBlock("dsl_int", function () {
    this.appendValueInput("ARG0").setCheck("Expr").appendField("int");
  }, "Expr");
  valueBlock("dsl_clamp", function () {
    this.appendValueInput("ARG0").setCheck("Expr").appendField("clamp");
    this.appendValueInput("ARG1").setCheck("Expr").appendField("between");
    this.appendValueInput("ARG2").setCheck("Expr").appendField("and");
    this.setInputsInline(true);
  }, "Expr");
  valueBlock("dsl_raw", function () {
    this.appendDummyInput().appendField("JSON").appendField(new Blockly.FieldTextInput("{}"), "JSON");
    this.setColour(0);
  });

  // -- AST -> block state ---------------------------------------------------------------------
  function withId(state, node) {
    if (node && typeof node.id === "string" && node.id) state.data = node.id;
    return state;
  }
  function raw(node, statement) {
    return { type: statement ? "dsl_raw_stmt" : "dsl_raw", fields: { JSON: stringifyExact(node).replace(/\s*\n\s*/g, " ") } };
  }
  function input(state) {
    return state ? { block: state } : undefined;
  }
  function chain(list, build) {
    if (!Array.isArray(list) || !list.length) return undefined;
    const states = list.map(build);
    for (let i = states.length - 2; i >= 0; i--) states[i].next = { block: states[i + 1] };
    return { block: states[0] };
  }
  function inputs(map) {
    const out = {};
    Object.keys(map).forEach(function (k) { if (map[k]) out[k] = map[k]; });
    return out;
  }

  function exprState(node) {
    if (!node || typeof node !== "object" || Array.isArray(node)) return raw(node, false);
    switch (node.type) {
      case "literal": {
        const v = node.value;
        if (isNum(v)) return withId({ type: "dsl_number", fields: { VALUE: v[NUM] } }, node);
        if (typeof v === "string") return withId({ type: "dsl_text", fields: { VALUE: v } }, node);
        if (typeof v === "boolean") return withId({ type: "dsl_boolean", fields: { VALUE: String(v) } }, node);
        if (v === null) return withId({ type: "dsl_null" }, node);
        return raw(node, false);
      }
      case "field": {
        const p = node.path;
        if (typeof p === "string" && /^data\.[A-Za-z0-9_]+$/.test(p)) return withId({ type: "dsl_data", fields: { KEY: p.slice(5) } }, node);
        if (FIELD_PATHS.indexOf(p) >= 0) return withId({ type: "dsl_field", fields: { PATH: p } }, node);
        if (PARENT_PATHS.indexOf(p) >= 0) return withId({ type: "dsl_parent_field", fields: { PATH: p } }, node);
        if (typeof p === "string") return withId({ type: "dsl_field_raw", fields: { PATH: p } }, node);
        return raw(node, false);
      }
      case "compare":
        return withId({ type: "dsl_compare", fields: { OP: node.op }, inputs: inputs({ LEFT: input(exprState(node.left)), RIGHT: input(exprState(node.right)) }) }, node);
      case "arith":
        return withId({ type: "dsl_arith", fields: { OP: node.op }, inputs: inputs({ LEFT: input(exprState(node.left)), RIGHT: input(exprState(node.right)) }) }, node);
      case "and":
      case "or": {
        const args = Array.isArray(node.args) ? node.args : [];
        if (args.length < 2 || args.length > 6) return raw(node, false);
        const map = {};
        args.forEach(function (a, i) { map["ARG" + i] = input(exprState(a)); });
        return withId({ type: "dsl_" + node.type, extraState: { count: args.length }, fields: { N: String(args.length) }, inputs: inputs(map) }, node);
      }
      case "not":
        return withId({ type: "dsl_not", inputs: inputs({ ARG: input(exprState(node.arg)) }) }, node);
      case "func_call": {
        const args = Array.isArray(node.args) ? node.args : [];
        if (node.name === "int" && args.length === 1) return withId({ type: "dsl_int", inputs: inputs({ ARG0: input(exprState(args[0])) }) }, node);
        if (node.name === "clamp" && args.length === 3) {
          return withId({ type: "dsl_clamp", inputs: inputs({ ARG0: input(exprState(args[0])), ARG1: input(exprState(args[1])), ARG2: input(exprState(args[2])) }) }, node);
        }
        return raw(node, false);
      }
      default:
        return raw(node, false);
    }
  }

  function stmtState(node) {
    if (!node || typeof node !== "object") return raw(node, true);
    const value = input(node.value !== undefined ? exprState(node.value) : null);
    switch (node.type) {
      case "assign_points":
        if (typeof node.case_name !== "string") return raw(node, true);
        return withId({ type: "dsl_assign_points", fields: { CASE: node.case_name }, inputs: inputs({ VALUE: value }) }, node);
      case "set_callback_data":
        if (typeof node.key !== "string") return raw(node, true);
        return withId({ type: "dsl_set_callback_data", fields: { KEY: node.key }, inputs: inputs({ VALUE: value }) }, node);
      case "return":
        return withId({ type: "dsl_return" }, node);
      case "set_data":
        if (typeof node.key !== "string" || !keyValidator(node.key)) return raw(node, true);
        return withId({ type: "dsl_set_data", fields: { KEY: node.key }, inputs: inputs({ VALUE: value }) }, node);
      case "veto":
        if (typeof node.case_name !== "string") return raw(node, true);
        return withId({ type: "dsl_veto", fields: { CASE: node.case_name } }, node);
      case "set_points":
        return withId({ type: "dsl_set_points", inputs: inputs({ VALUE: value }) }, node);
      case "set_case_name":
        return withId({ type: "dsl_set_case_name", inputs: inputs({ VALUE: value }) }, node);
      default:
        return raw(node, true);
    }
  }

  function ruleState(section) {
    return function (rule) {
      if (!rule || typeof rule !== "object" || rule.type !== "rule") return raw(rule, true);
      return withId({
        type: "dsl_rule_" + section,
        inputs: inputs({
          WHEN: input(rule.when !== undefined ? exprState(rule.when) : null),
          THEN: chain(rule.then, stmtState),
          ELSE_IF: chain(rule.else_if, function (branch) {
            return withId({ type: "dsl_elseif_" + section, inputs: inputs({ WHEN: input(exprState(branch && branch.when)), THEN: chain(branch && branch.then, stmtState) }) }, branch);
          }),
          ELSE: chain(rule.else, stmtState),
        }),
      }, rule);
    };
  }

  function programState(ast) {
    const present = ["default", "pre_rules", "post_rules", "parent_variables"].filter(function (k) {
      return ast[k] !== undefined;
    });
    const vars = ast.parent_variables && typeof ast.parent_variables === "object" ? ast.parent_variables : {};
    return withId({
      type: "dsl_program",
      x: 20,
      y: 20,
      deletable: false,
      extraState: { present: present },
      inputs: inputs({
        RULES: chain(ast.rules, ruleState("rule")),
        DEFAULT: ast.default ? { block: stmtState(ast.default) } : undefined,
        PRE: chain(ast.pre_rules, ruleState("pre")),
        POST: chain(ast.post_rules, ruleState("post")),
        VARS: chain(Object.keys(vars), function (k) {
          return { type: "dsl_parent_var", fields: { NAME: k, VALUE: stringifyExact(vars[k]) } };
        }),
      }),
    }, ast);
  }

  // -- blocks -> AST (with a pointer -> block map) --------------------------------------------
  let pointers = {};
  let strays = [];

  function mark(block, pointer, node) {
    pointers[pointer] = block.id;
    if (block.data) node.id = block.data;
    return node;
  }
  function list(first, build, pointer) {
    const out = [];
    for (let b = first; b; b = b.getNextBlock()) out.push(build(b, pointer + "/" + out.length));
    return out;
  }
  function exprFrom(block, pointer) {
    const t = block.type;
    const child = function (name, key) {
      const target = block.getInputTargetBlock(name);
      return target ? exprFrom(target, pointer + "/" + key) : undefined;
    };
    let node;
    if (t === "dsl_number") node = { type: "literal", value: { [NUM]: block.getFieldValue("VALUE") } };
    else if (t === "dsl_text") node = { type: "literal", value: block.getFieldValue("VALUE") };
    else if (t === "dsl_boolean") node = { type: "literal", value: block.getFieldValue("VALUE") === "true" };
    else if (t === "dsl_null") node = { type: "literal", value: null };
    else if (t === "dsl_field" || t === "dsl_parent_field" || t === "dsl_field_raw") node = { type: "field", path: block.getFieldValue("PATH") };
    else if (t === "dsl_data") node = { type: "field", path: "data." + block.getFieldValue("KEY") };
    else if (t === "dsl_compare" || t === "dsl_arith") {
      node = { type: t === "dsl_compare" ? "compare" : "arith", op: block.getFieldValue("OP") };
      const left = child("LEFT", "left");
      const right = child("RIGHT", "right");
      if (left !== undefined) node.left = left;
      if (right !== undefined) node.right = right;
    } else if (t === "dsl_and" || t === "dsl_or") {
      node = { type: t.slice(4), args: [] };
      for (let i = 0; i < block.count; i++) {
        const arg = child("ARG" + i, "args/" + node.args.length);
        if (arg !== undefined) node.args.push(arg);
      }
    } else if (t === "dsl_not") {
      node = { type: "not" };
      const arg = child("ARG", "arg");
      if (arg !== undefined) node.arg = arg;
    } else if (t === "dsl_int" || t === "dsl_clamp") {
      node = { type: "func_call", name: t.slice(4), args: [] };
      const n = t === "dsl_int" ? 1 : 3;
      for (let i = 0; i < n; i++) {
        const arg = child("ARG" + i, "args/" + i);
        node.args.push(arg !== undefined ? arg : null);
      }
    } else {
      node = rawFrom(block);
      pointers[pointer] = block.id;
      return node;
    }
    return mark(block, pointer, node);
  }
  function rawFrom(block) {
    try {
      return parseExact(block.getFieldValue("JSON"));
    } catch (e) {
      return block.getFieldValue("JSON");
    }
  }
  function stmtFrom(block, pointer) {
    if (block.type === "dsl_raw_stmt") {
      pointers[pointer] = block.id;
      return rawFrom(block);
    }
    const node = { type: block.type.slice(4) };
    if (block.getField("KEY")) node.key = block.getFieldValue("KEY");
    if (block.getInput("VALUE")) {
      const target = block.getInputTargetBlock("VALUE");
      if (target) node.value = exprFrom(target, pointer + "/value");
    }
    if (block.getField("CASE")) node.case_name = block.getFieldValue("CASE");
    return mark(block, pointer, node);
  }
  function ruleFrom(block, pointer) {
    if (block.type === "dsl_raw_stmt") {
      pointers[pointer] = block.id;
      return rawFrom(block);
    }
    const node = { type: "rule" };
    const when = block.getInputTargetBlock("WHEN");
    if (when) node.when = exprFrom(when, pointer + "/when");
    node.then = list(block.getInputTargetBlock("THEN"), stmtFrom, pointer + "/then");
    const elseIf = block.getInputTargetBlock("ELSE_IF");
    if (elseIf) {
      node.else_if = list(elseIf, function (b, p) {
        const branch = {};
        if (b.data) branch.id = b.data;
        pointers[p] = b.id;
        const w = b.getInputTargetBlock("WHEN");
        if (w) branch.when = exprFrom(w, p + "/when");
        branch.then = list(b.getInputTargetBlock("THEN"), stmtFrom, p + "/then");
        return branch;
      }, pointer + "/else_if");
    }
    const otherwise = block.getInputTargetBlock("ELSE");
    if (otherwise) node.else = list(otherwise, stmtFrom, pointer + "/else");
    return mark(block, pointer, node);
  }
  function scalarFrom(text) {
    try {
      return parseExact(text);
    } catch (e) {
      return text;
    }
  }
  function programFrom(root) {
    pointers = {};
    strays = [];
    const ast = mark(root, "", { type: "program" });
    const present = root.present || [];
    ast.rules = list(root.getInputTargetBlock("RULES"), ruleFrom, "/rules");
    const def = root.getInputTargetBlock("DEFAULT");
    if (def) {
      ast.default = stmtFrom(def, "/default");
      for (let b = def.getNextBlock(); b; b = b.getNextBlock()) strays.push([b, "The default takes a single statement; this one is ignored."]);
    }
    const pre = root.getInputTargetBlock("PRE");
    if (pre || present.indexOf("pre_rules") >= 0) ast.pre_rules = list(pre, ruleFrom, "/pre_rules");
    const post = root.getInputTargetBlock("POST");
    if (post || present.indexOf("post_rules") >= 0) ast.post_rules = list(post, ruleFrom, "/post_rules");
    const vars = root.getInputTargetBlock("VARS");
    if (vars || present.indexOf("parent_variables") >= 0) {
      ast.parent_variables = {};
      for (let b = vars; b; b = b.getNextBlock()) {
        ast.parent_variables[b.getFieldValue("NAME")] = scalarFrom(b.getFieldValue("VALUE"));
        pointers["/parent_variables/" + b.getFieldValue("NAME")] = b.id;
      }
    }
    return ast;
  }

  // -- the page -------------------------------------------------------------------------------
  const textarea = document.querySelector("textarea[name=ast_json]");
  const xmlInput = document.querySelector("input[name=blockly_xml]");
  const typeSelect = document.getElementById("id_type");
  const parentSelect = document.getElementById("id_parent_strategy_id");
  const starterSelect = document.getElementById("id_starter");
  const realmSelect = document.getElementById("id_realm");
  const blocklyDiv = document.getElementById("dsl-blockly");
  const issuesList = document.getElementById("dsl-issues");
  const rawPanel = document.getElementById("dsl-raw-panel");
  const programFieldset = document.querySelector("fieldset.dsl-program");
  if (programFieldset && rawPanel) rawPanel.appendChild(programFieldset);

  function currentType() {
    if (typeSelect) return typeSelect.value;
    const cell = document.querySelector(".field-type .readonly");
    return cell ? cell.textContent.trim() : "DSL_FULL";
  }
  function currentParent() {
    return parentSelect ? parentSelect.value || null : null;
  }

  function toolbox(type) {
    const extend = type === "DSL_EXTEND";
    const statements = Object.keys(STATEMENTS).filter(function (s) {
      const sections = STATEMENTS[s];
      return extend ? sections.indexOf("pre") >= 0 || sections.indexOf("post") >= 0 : sections.indexOf("rule") >= 0;
    });
    const blocks = function (types) { return types.map(function (t) { return { kind: "block", type: t }; }); };
    const categories = [];
    if (extend) {
      categories.push({ kind: "category", name: "Pre rules", colour: String(COLOURS.rule), contents: blocks(["dsl_rule_pre", "dsl_elseif_pre"]) });
      categories.push({ kind: "category", name: "Post rules", colour: String(COLOURS.rule), contents: blocks(["dsl_rule_post", "dsl_elseif_post", "dsl_parent_field"]) });
    } else {
      categories.push({ kind: "category", name: "Rules", colour: String(COLOURS.rule), contents: blocks(["dsl_rule_rule", "dsl_elseif_rule"]) });
    }
    categories.push({ kind: "category", name: "Actions", colour: String(COLOURS.stmt), contents: blocks(statements.map(function (s) { return "dsl_" + s; })) });
    categories.push({ kind: "category", name: "Conditions", colour: String(COLOURS.cond), contents: blocks(["dsl_compare", "dsl_and", "dsl_or", "dsl_not", "dsl_boolean", "dsl_data"]) });
    categories.push({ kind: "category", name: "Values", colour: String(COLOURS.expr), contents: blocks(["dsl_number", "dsl_data", "dsl_field", "dsl_text", "dsl_boolean", "dsl_null", "dsl_arith", "dsl_int", "dsl_clamp"]) });
    if (extend) categories.push({ kind: "category", name: "Parent variables", colour: String(COLOURS.vars), contents: blocks(["dsl_parent_var"]) });
    return { kind: "categoryToolbox", contents: categories };
  }

  const workspace = Blockly.inject(blocklyDiv, {
    toolbox: config.readOnly ? undefined : toolbox(currentType()),
    readOnly: !!config.readOnly,
    media: config.mediaUrl,
    trashcan: !config.readOnly,
    zoom: { controls: true, wheel: false, startScale: 0.85 },
    move: { scrollbars: true, drag: true, wheel: true },
    grid: { spacing: 20, length: 3, colour: "#eee", snap: true },
  });
  let loading = false;
  let blocksStale = false;

  function root() {
    return workspace.getTopBlocks(false).find(function (b) { return b.type === "dsl_program"; });
  }

  function loadAst(ast) {
    loading = true;
    Blockly.Events.disable();
    try {
      workspace.clear();
      Blockly.serialization.blocks.append(programState(ast), workspace);
    } finally {
      Blockly.Events.enable();
      loading = false;
    }
  }

  // Layouts saved before the parent's fields had their own block show them as field blocks.
  function upgradeLayout(dom) {
    dom.querySelectorAll('block[type="dsl_field"]').forEach(function (block) {
      const path = Array.from(block.children).find(function (c) {
        return c.tagName.toLowerCase() === "field" && c.getAttribute("name") === "PATH";
      });
      if (path && PARENT_PATHS.indexOf(path.textContent) >= 0) block.setAttribute("type", "dsl_parent_field");
    });
    return dom;
  }

  function loadFromPage() {
    const text = textarea.value.trim();
    let ast;
    try {
      ast = text ? parseExact(text) : { type: "program", rules: [] };
    } catch (e) {
      showIssues([{ code: "DSL_AST_NOT_JSON", message: "The raw JSON does not parse: " + e.message, pointer: "", nodeId: null }]);
      return false;
    }
    if (!ast || typeof ast !== "object" || Array.isArray(ast)) ast = { type: "program", rules: [] };
    const xml = xmlInput ? xmlInput.value.trim() : "";
    if (xml) {
      // Keep the designer's layout when it still matches the stored program.
      try {
        loading = true;
        Blockly.Events.disable();
        workspace.clear();
        Blockly.Xml.domToWorkspace(upgradeLayout(Blockly.utils.xml.textToDom(xml)), workspace);
        Blockly.Events.enable();
        loading = false;
        const r = root();
        if (r && sameProgram(programFrom(r), ast)) return true;
      } catch (e) {
        Blockly.Events.enable();
        loading = false;
      }
    }
    loadAst(ast);
    if (root()) programFrom(root());
    return true;
  }

  function syncFromBlocks() {
    const r = root();
    if (!r) return;
    const ast = programFrom(r);
    textarea.value = stringifyExact(ast);
    if (xmlInput) xmlInput.value = Blockly.Xml.domToText(Blockly.Xml.workspaceToDom(workspace));
    markStrays();
  }

  function markStrays() {
    workspace.getAllBlocks(false).forEach(function (b) {
      if (b.__stray) { b.setWarningText(null); b.__stray = false; }
    });
    workspace.getTopBlocks(false).forEach(function (b) {
      if (b.type !== "dsl_program") strays.push([b, "Not attached to the program: ignored."]);
    });
    strays.forEach(function (pair) {
      pair[0].setWarningText(pair[1]);
      pair[0].__stray = true;
    });
  }

  workspace.addChangeListener(function (event) {
    if (loading || event.isUiEvent || config.readOnly) return;
    syncFromBlocks();
  });

  textarea.addEventListener("input", function () { blocksStale = true; });

  // -- tabs -----------------------------------------------------------------------------------
  document.querySelectorAll(".dsl-tab").forEach(function (tab) {
    tab.addEventListener("click", function () {
      const name = tab.getAttribute("data-tab");
      document.querySelectorAll(".dsl-tab").forEach(function (t) { t.classList.toggle("active", t === tab); });
      document.querySelectorAll(".dsl-tab-panel").forEach(function (p) { p.hidden = p.getAttribute("data-panel") !== name; });
      if (name === "blocks") {
        if (blocksStale && loadFromPage()) blocksStale = false;
        Blockly.svgResize(workspace);
      }
    });
  });

  // -- issues ---------------------------------------------------------------------------------
  function blockFor(issue) {
    if (issue.nodeId) {
      const byId = workspace.getAllBlocks(false).find(function (b) { return b.data === issue.nodeId; });
      if (byId) return byId;
    }
    let pointer = issue.pointer || "";
    for (;;) {
      if (pointers[pointer]) return workspace.getBlockById(pointers[pointer]);
      if (!pointer) return null;
      pointer = pointer.slice(0, pointer.lastIndexOf("/"));
    }
  }

  function showIssues(issues) {
    workspace.getAllBlocks(false).forEach(function (b) { if (!b.__stray) b.setWarningText(null); });
    issuesList.innerHTML = "";
    (issues || []).forEach(function (issue) {
      const li = document.createElement("li");
      li.className = "dsl-issue";
      li.setAttribute("data-pointer", issue.pointer || "");
      const block = blockFor(issue);
      li.textContent = issue.message + " (" + issue.code + (issue.pointer ? " at " + issue.pointer : "") + ")";
      if (block) {
        block.setWarningText(issue.message);
        const show = document.createElement("a");
        show.href = "#dsl-editor";
        show.textContent = " show block";
        show.addEventListener("click", function (e) {
          e.preventDefault();
          workspace.centerOnBlock(block.id);
          block.select();
        });
        li.appendChild(show);
      }
      issuesList.appendChild(li);
    });
  }

  function csrf() {
    const input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }
  function post(url, body) {
    return fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf() },
      body: JSON.stringify(body),
      credentials: "same-origin",
    }).then(function (response) {
      return response.json().then(function (json) { return { status: response.status, body: json }; });
    });
  }
  function programBody() {
    if (!blocksStale && root() && !config.readOnly) syncFromBlocks();
    return {
      type: currentType(),
      parentStrategyId: currentParent(),
      astText: textarea.value,
      realm: realmSelect ? realmSelect.value : config.realmId,
    };
  }

  const checkButton = document.getElementById("dsl-check");
  const checkResult = document.getElementById("dsl-check-result");
  if (checkButton) {
    checkButton.addEventListener("click", function () {
      post(config.validateUrl, programBody()).then(function (r) {
        const errors = r.body.errors || [];
        showIssues(errors);
        checkResult.textContent = errors.length ? errors.length + " problem(s)" : "No problems: ready to publish.";
        checkResult.className = "dsl-check-result " + (errors.length ? "bad" : "good");
      });
    });
  }

  // -- starting points and type ---------------------------------------------------------------
  if (starterSelect) {
    starterSelect.addEventListener("change", function () {
      const starter = config.starters.find(function (s) { return s.key === starterSelect.value; });
      if (!starter) return;
      textarea.value = starter.astText;
      if (typeSelect) typeSelect.value = starter.type;
      if (parentSelect) parentSelect.value = starter.parentStrategyId || "";
      if (xmlInput) xmlInput.value = "";
      loadFromPage();
      if (typeSelect) typeSelect.dispatchEvent(new Event("change"));
      prefill(true);
    });
  }
  if (typeSelect && !config.readOnly) {
    typeSelect.addEventListener("change", function () { workspace.updateToolbox(toolbox(typeSelect.value)); });
  }

  // -- simulation -----------------------------------------------------------------------------
  const sim = {
    user: document.getElementById("dsl-sim-user"),
    game: document.getElementById("dsl-sim-game"),
    task: document.getElementById("dsl-sim-task"),
    data: document.getElementById("dsl-sim-data"),
    mock: document.getElementById("dsl-sim-mock"),
    result: document.getElementById("dsl-sim-result"),
  };
  function prefill(force) {
    if (!config.canSimulate || !sim.data) return;
    if (!force && (sim.data.value.trim() !== "{}" || sim.mock.value.trim() !== "{}")) return;
    post(config.defaultsUrl, programBody()).then(function (r) {
      if (r.status !== 200) return;
      sim.data.value = JSON.stringify(r.body.data, null, 2);
      sim.mock.value = JSON.stringify(r.body.mockState, null, 2);
    });
  }
  function parseBox(box, label) {
    try {
      const value = JSON.parse(box.value || "{}");
      box.classList.remove("dsl-bad");
      return value;
    } catch (e) {
      box.classList.add("dsl-bad");
      throw new Error(label + " is not valid JSON: " + e.message);
    }
  }
  function setText(id, text) {
    document.getElementById(id).textContent = text;
  }
  function runSimulation() {
    let data;
    let mock;
    try {
      data = parseBox(sim.data, "Event data");
      mock = parseBox(sim.mock, "mockState");
    } catch (e) {
      sim.result.hidden = false;
      setText("dsl-sim-status", "input error");
      setText("dsl-sim-error", e.message);
      return;
    }
    const body = Object.assign(programBody(), {
      externalUserId: sim.user.value,
      externalGameId: sim.game.value,
      externalTaskId: sim.task.value,
      data: data,
      mockState: mock,
    });
    post(config.simulateUrl, body).then(function (r) {
      sim.result.hidden = false;
      const b = r.body;
      if (r.status !== 200) {
        setText("dsl-sim-status", "refused (" + r.status + ")");
        setText("dsl-sim-points", "—");
        setText("dsl-sim-case", "—");
        setText("dsl-sim-callback", "");
        setText("dsl-sim-error", (b.code || "") + ": " + (b.detail || ""));
        setText("dsl-sim-cost", "");
        document.getElementById("dsl-sim-tree").innerHTML = "";
        if (b.errors) showIssues(b.errors);
        return;
      }
      setText("dsl-sim-status", b.status);
      setText("dsl-sim-points", b.points === null ? "—" : String(b.points));
      setText("dsl-sim-case", b.caseName === null ? "—" : b.caseName);
      setText("dsl-sim-callback", JSON.stringify(b.callbackData));
      setText("dsl-sim-error", b.errorCode ? b.errorCode + ": " + b.message + (b.pointer ? " at " + b.pointer : "") : "—");
      setText("dsl-sim-cost", b.nodesExecuted + " nodes, " + b.durationMs + " ms");
      document.getElementById("dsl-sim-tree").innerHTML = b.treeHtml || "";
      setText("dsl-sim-trace", JSON.stringify(b.trace, null, 1));
      if (b.errorCode) showIssues([{ code: b.errorCode, message: b.message, pointer: b.pointer, nodeId: b.nodeId }]);
      else showIssues([]);
    });
  }
  const runButton = document.getElementById("dsl-sim-run");
  const prefillButton = document.getElementById("dsl-sim-prefill");
  if (runButton) runButton.addEventListener("click", runSimulation);
  if (prefillButton) prefillButton.addEventListener("click", function () { prefill(true); });
  if (!config.canSimulate) {
    const panel = document.getElementById("dsl-simulate");
    if (panel) panel.hidden = true;
  }

  // -- start ----------------------------------------------------------------------------------
  loadFromPage();
  markStrays();
  showIssues(config.issues);
  prefill(false);
  window.dslEditor = { workspace: workspace, programFrom: function () { return plain(programFrom(root())); }, sync: syncFromBlocks };
})();
