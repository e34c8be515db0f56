" Vim syntax file
" Language:    flow (flowc's language for orchestrating tools)
" Filenames:   *.flow
" The token classes follow grammar/flow.pest; the reserved words below are kept
" equal to its `keyword` rule by tests/editors.rs.

if exists('b:current_syntax')
  finish
endif

let s:cpo_save = &cpo
set cpo&vim

syn case match
syn sync minlines=200

" ---------------------------------------------------------------- operators
" (First: a comment or a regex literal that starts at the same `/` wins.)
syn match flowOperator "[-+*/%<>=!|?~&]"
syn match flowOperator "==\|!=\|<=\|>=\|&&\|||\|??\|!\~\|++\|=>\|->"
syn match flowWildcard "\[\s*\*\s*\]"

" ---------------------------------------------------------------- reserved words
syn keyword flowDeclaration type tool effect flow const let test
" `policy` is a word only where an item starts.
syn match   flowDeclaration "^\s*\zspolicy\ze\s\+\h"
" `schedule` is a word only where an item starts, `within` only before a deadline.
syn match   flowDeclaration "^\s*\zsschedule\ze\s\+\""
syn match   flowControl     "\<within\ze\s\+\d"
syn keyword flowInclude     import as
syn keyword flowBlock       parallel sequence dag race match decide approve
syn keyword flowRepeat      loop for
syn keyword flowException   try catch
syn keyword flowConditional if else
syn keyword flowControl     until in after with
syn keyword flowTest        mock assert
syn keyword flowBoolean     true false
syn keyword flowNull        null

" Built-in types (not reserved: also fine as names).
syn keyword flowType string int float bool json duration

" Words reserved only where they appear.
syn match flowMode    "\%(\<parallel\s\+\)\@<=\%(merge\|concat\)\>"
syn match flowLoopMax "\%(\<loop\s.*\)\@<=\<max\>\%(\s*(\)\@!"
" A tool's binding: after its `=` (here or at the end of the line before).
syn match flowBinding "\%(\%([^=!<>]\|^\)=\s*\|^\s*\)\@<=\<\%(builtin\|mcp\)\ze\s*\""
syn match flowBinding "\%(\%([^=!<>]\|^\)=\s*\|^\s*\)\@<=\<exec\ze\s*\["
syn match flowBinding "\%(\%([^=!<>]\|^\)=\s*\|^\s*\)\@<=\<http\ze\s\+\h\w*\s*\""
syn match flowMethod  "\%(\<http\s\+\)\@<=\h\w*\ze\s*\""

" ---------------------------------------------------------------- names
" A name followed by `(` is a call; built-in functions have their own group.
syn match flowCall    "\<\h\w*\ze\s*("
syn match flowBuiltin "\%(\.\s*\)\@<!\<\%(len\|keys\|values\|merge\|flatten\|unique\|sort\|sum\|min\|max\|avg\|contains\|starts_with\|ends_with\|lower\|upper\|split\|join\|trim\|replace\|to_string\|to_int\|to_float\|parse_json\|to_json\|now\|stable\|jsonpath\|env\|llm\|range\|abs\|round\)\ze\s*("
syn match flowSpecial "\<\%(context\|iteration\)\>"
" A `decide` arm's label, and the branches of `parallel` and `race`.
syn match flowLabel   "\<\h\w*\ze\s*=>"
syn match flowBranch  "\<\h\w*\ze\s*=[=>]\@!"
" Type names start with a capital and are not all capitals (those are constants).
syn match flowTypeName "\<\u\w*\l\w*\>"
syn match flowWildcard "\<_\>"

" Declared names.
syn match flowFunction  "\%(\<\%(tool\|flow\)\s\+\)\@<=\h\w*"
syn match flowTypeDecl  "\%(\<type\s\+\)\@<=\h\w*"
syn match flowConstant  "\%(\<const\s\+\)\@<=\h\w*"
syn match flowVariable  "\%(\<\%(let\|for\|loop\)\s\+\)\@<=\h\w*"
syn match flowVariable  "\%(\<catch\s\+\)\@<=\h\w*\ze\s*{"
syn match flowModule    "\%(\<import\s\+\)\@<=\h\w*\%(\.\h\w*\)*"
syn match flowModule    "\%(\<as\s\+\)\@<=\h\w*"
syn match flowMock      "\%(\<mock\s\+\)\@<=\h\w*\%(\.\h\w*\)*"

" A record key, parameter or named argument: `name:` after `{`, `(`, `,` or at the
" start of a line. The match starts at that character (so that a reserved word
" is a key here: `{ type: "x" }`) but highlights the name only.
syn match flowKey "[{(,]\s*\h\w*\s*?\=\s*:\@="hs=s+1 contains=flowOptional
syn match flowKey "^\s*\h\w*\s*?\=\s*:\@=" contains=flowOptional
syn match flowOptional "?" contained
" A field after `.` (reserved words are fine here too), unless it is called or
" names a type (`anomalies.Analysis`).
syn match flowField "\.\s*\%(\u\w*\l\w*\>\)\@!\h\w*\>\%(\s*(\)\@!"hs=s+1

" `with { key: value }`: options.
syn region flowOptions transparent matchgroup=flowDelimiter start="\%(\<with\s*\)\@<={" end="}" contains=flowOptionKey,@flowExpr
" (Defined after flowKey: at the same start an option key wins.)
syn match flowOptionKey "\%({\s*\)\@<=\h\w*\ze\s*:" contained
syn match flowOptionKey ",\s*\h\w*\ze\s*:"hs=s+1 contained
syn match flowOptionKey "^\s*\h\w*\ze\s*:" contained

" ---------------------------------------------------------------- literals
syn match flowNumber        "\<\d\+\>"
syn match flowDurationError "\<\d\+\%(\.\d\+\)\=\a\+\>"
syn match flowDuration      "\<\d\+\%(\.\d\+\)\=\%(ms\|s\|m\|h\|d\)\>"
syn match flowFloat         "\<\d\+\%(\.\d\+\%([eE][+-]\=\d\+\)\=\|[eE][+-]\=\d\+\)\>"

syn region flowString matchgroup=flowQuote start=+"+ skip=+\\\\\|\\"+ end=+"\|$+ contains=flowEscapeError,flowEscape,flowInterp
syn match  flowEscapeError "\\." contained
syn match  flowEscape      "\\\%([ntr0\"\\{}/]\|u{\x\+}\)" contained
syn region flowInterp matchgroup=flowInterpDelim start="{" end="}" contained contains=@flowExpr,flowBraces
syn region flowBraces start="{" end="}" contained transparent contains=@flowExpr,flowBraces

" `/body/flags` where an operand is expected; after an operand `/` divides.
syn region flowRegex matchgroup=flowRegexDelim start=+\%([~(\[{,:=!&|?<>+*%-]\s*\)\@<=/[/*]\@!\%(\%(\\.\|[^/\\]\)\+/\)\@=+ skip=+\\.+ end=+/+ oneline contains=flowRegexEscape nextgroup=flowRegexFlags
syn match  flowRegexEscape "\\." contained
syn match  flowRegexFlags  "\a\+" contained

" ---------------------------------------------------------------- comments
syn keyword flowTodo contained TODO FIXME XXX NOTE
syn match  flowComment    "//.*$" contains=flowTodo,@Spell
syn match  flowDocComment "///\%(/\)\@!.*$" contains=flowTodo,flowDocCode,@Spell
syn match  flowDocCode    "`[^`]*`" contained
syn region flowBlockComment start="/\*" end="\*/" contains=flowBlockComment,flowTodo,@Spell

syn cluster flowExpr contains=flowOperator,flowWildcard,flowDeclaration,flowInclude,flowBlock,flowRepeat,flowException,flowConditional,flowControl,flowTest,flowBoolean,flowNull,flowType,flowMode,flowLoopMax,flowCall,flowBuiltin,flowSpecial,flowLabel,flowBranch,flowTypeName,flowKey,flowField,flowOptions,flowNumber,flowDurationError,flowDuration,flowFloat,flowString,flowRegex,flowComment,flowDocComment,flowBlockComment

" ---------------------------------------------------------------- links
hi def link flowDeclaration   Keyword
hi def link flowInclude       Include
hi def link flowBlock         Keyword
hi def link flowRepeat        Repeat
hi def link flowException     Exception
hi def link flowConditional   Conditional
hi def link flowControl       Keyword
hi def link flowTest          Keyword
hi def link flowMode          StorageClass
hi def link flowLoopMax       Keyword
hi def link flowBinding       StorageClass
hi def link flowMethod        Constant
hi def link flowBoolean       Boolean
hi def link flowNull          Constant
hi def link flowType          Type
hi def link flowTypeName      Type
hi def link flowTypeDecl      Typedef
hi def link flowFunction      Function
hi def link flowCall          Function
hi def link flowBuiltin       Function
hi def link flowConstant      Constant
hi def link flowVariable      Identifier
hi def link flowBranch        Identifier
hi def link flowLabel         Label
hi def link flowModule        Identifier
hi def link flowMock          Function
hi def link flowKey           Identifier
hi def link flowOptionKey     Tag
hi def link flowOptional      Operator
hi def link flowField         Identifier
hi def link flowSpecial       Special
hi def link flowWildcard      Special
hi def link flowOperator      Operator
hi def link flowDelimiter     Delimiter
hi def link flowNumber        Number
hi def link flowFloat         Float
hi def link flowDuration      Number
hi def link flowDurationError Error
hi def link flowString        String
hi def link flowQuote         String
hi def link flowEscape        SpecialChar
hi def link flowEscapeError   Error
hi def link flowInterpDelim   Delimiter
hi def link flowRegex         String
hi def link flowRegexDelim    String
hi def link flowRegexEscape   SpecialChar
hi def link flowRegexFlags    Special
hi def link flowComment       Comment
hi def link flowBlockComment  Comment
hi def link flowDocComment    SpecialComment
hi def link flowDocCode       Special
hi def link flowTodo          Todo

let b:current_syntax = 'flow'

let &cpo = s:cpo_save
unlet s:cpo_save
